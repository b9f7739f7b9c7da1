package route_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/callguard/callguard/callguardtest"
	"github.com/callguard/callguard/route"
)

func Example() {
	clock := callguardtest.NewClock()
	api := route.New(route.WithClock(clock)) // the routes of the service "api"

	// api refused a checkout: "Callguard-Unavailable: payments; for=5s".
	api.Observe("POST /checkout", "payments", 5*time.Second)

	_, err := api.Admit("POST /checkout")
	fmt.Println(err, errors.Is(err, route.ErrUnavailable))
	_, err = api.Admit("GET /browse")
	fmt.Println(err)

	clock.Advance(time.Second) // one probe per second goes through
	probe, _ := api.Admit("POST /checkout")
	fmt.Println("probe:", probe)
	api.Recovered("POST /checkout") // and was served
	_, err = api.Admit("POST /checkout")
	fmt.Println(err)
	// Output:
	// route: POST /checkout needs payments, unavailable true
	// <nil>
	// probe: true
	// <nil>
}
