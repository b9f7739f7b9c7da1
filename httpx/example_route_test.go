package httpx_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/callguard/callguard/breaker"
	"github.com/callguard/callguard/httpx"
	"github.com/callguard/callguard/route"
)

// api's checkout calls payments, whose breaker is open; the edge learns
// from api's first refusal and refuses checkout itself, while browse goes
// on.
func ExampleNewRouteTransport() {
	payments := breaker.New()
	payments.ForceOpen() // payments is down
	toPayments := &http.Client{Transport: httpx.NewTransport(nil, payments, httpx.WithDependency("payments", breaker.ErrOpen))}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /checkout", func(w http.ResponseWriter, r *http.Request) {
		req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, "http://payments.invalid/", nil)
		if _, err := toPayments.Do(req); err != nil {
			httpx.Error(w, err) // 503, Callguard-Unavailable: payments
		}
	})
	mux.HandleFunc("GET /browse", func(w http.ResponseWriter, r *http.Request) {})
	api := httptest.NewServer(httpx.Handler(mux, nil))
	defer api.Close()

	edge := &http.Client{Transport: httpx.NewRouteTransport(nil, route.New(), nil)}
	defer edge.CloseIdleConnections()
	resp, _ := edge.Post(api.URL+"/checkout", "", nil)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, resp.Header.Get(httpx.UnavailableHeader))

	_, err := edge.Post(api.URL+"/checkout", "", nil)
	fmt.Println(errors.Is(err, route.ErrUnavailable))
	resp, _ = edge.Get(api.URL + "/browse")
	resp.Body.Close()
	fmt.Println(resp.StatusCode)
	// Output:
	// 503 payments
	// true
	// 200
}
