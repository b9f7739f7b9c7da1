package probe_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/callguardtest"
	"github.com/callguard/callguard/httpx"
	"github.com/callguard/callguard/probe"
)

// A prober drives a two-step transaction through a service. The service
// sees that the requests are synthetic and skips the side effect; the
// prober reports each step with the run's request id.
func Example() {
	mux := http.NewServeMux()
	mux.HandleFunc("/catalog", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "books") })
	mux.HandleFunc("/checkout", func(w http.ResponseWriter, r *http.Request) {
		if callguard.IsSynthetic(r.Context()) {
			fmt.Println("service: synthetic checkout, no charge")
			return
		}
		fmt.Println("service: card charged")
	})
	srv := httptest.NewServer(httpx.Handler(mux, nil)) // an internal server: it trusts the mark
	defer srv.Close()
	client := &http.Client{Transport: httpx.NewTransport(srv.Client().Transport, nil)}

	clk := callguardtest.NewClock() // a real program leaves the system clock
	done := make(chan struct{})
	p := probe.New("checkout", []probe.Step{
		probe.HTTP("browse", client, http.MethodGet, srv.URL+"/catalog", nil),
		probe.HTTP("buy", client, http.MethodPost, srv.URL+"/checkout", []byte(`{"item":"book"}`)),
	}, probe.WithClock(clk), probe.WithRequestIDs(func() string { return "probe-1" }),
		probe.OnResult(func(r probe.Result) {
			for _, s := range r.Steps {
				fmt.Printf("%s %s: ok=%v [request %s]\n", r.Prober, s.Name, s.Err == nil, r.RequestID)
			}
			close(done)
		}))
	p.Start() // the first run now, then every 30 s ± 10%
	<-done
	p.Stop()
	// Output:
	// service: synthetic checkout, no charge
	// checkout browse: ok=true [request probe-1]
	// checkout buy: ok=true [request probe-1]
}

// Run runs the script once, outside the schedule: for a deploy check, or
// a command-line tool.
func ExampleProber_Run() {
	p := probe.New("smoke", []probe.Step{
		{Name: "ping", Do: func(ctx context.Context) error { return nil }},
		{Name: "fail", Do: func(ctx context.Context) error { return fmt.Errorf("not ready") }},
		{Name: "never", Do: func(ctx context.Context) error { return nil }},
	}, probe.WithRequestIDs(func() string { return "deploy-42" }))
	r := p.Run(context.Background())
	fmt.Println(r.OK())
	fmt.Println(r.Err())
	fmt.Println(r.Steps[2].Skipped)
	// Output:
	// false
	// probe smoke: step fail: not ready [request deploy-42]
	// true
}
