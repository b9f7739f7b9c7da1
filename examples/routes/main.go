// Command routes measures route availability carried upstream (package
// route), against per-service breakers alone.
//
// Four services on 127.0.0.1: the edge calls api; api's POST /checkout
// calls payments, its GET /browse calls catalog. Every client has the
// recommended stack (stack.Client: throttle, retry, breaker, bulkhead,
// per-attempt timeout), api's clients name their dependency
// (httpx.WithDependency with breaker.ErrOpen). The edge sends 200 requests
// a second, half checkout, half browse, each with 1 s to finish. After
// -warmup, payments goes down for -outage (it drops every connection),
// then comes back for -after.
//
// Two setups, each on a fresh system: the edge with per-service breakers
// only, and the same edge with a route table (httpx.NewRouteTransport).
// With the table, api's first refusal ("Callguard-Unavailable: payments")
// teaches the edge that POST /checkout needs payments, and the edge refuses
// checkout itself, letting one probe through per probe interval, while
// browse goes on.
//
//	go run ./examples/routes                 # the table, about 30 s
//	go run ./examples/routes -outage 3s -after 3s -check   # shorter, exit 1 if G17 is missed
//
// -check exits with status 1 when, with the route table, fewer than 99% of
// the checkout requests started from 1 s after the outage began to its
// end are refused at the edge, more than 1% of them reach api, or fewer
// than 99% of browse requests succeed during and after the outage.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/callguard/callguard/breaker"
	"github.com/callguard/callguard/httpx"
	"github.com/callguard/callguard/retry"
	"github.com/callguard/callguard/route"
	"github.com/callguard/callguard/stack"
)

type config struct {
	warmup, outage, after time.Duration
	rate                  float64
	probe                 time.Duration
	check                 bool
}

func main() {
	var cfg config
	flag.DurationVar(&cfg.warmup, "warmup", 2*time.Second, "time before payments goes down")
	flag.DurationVar(&cfg.outage, "outage", 8*time.Second, "how long payments is down")
	flag.DurationVar(&cfg.after, "after", 5*time.Second, "time measured after payments is back")
	flag.Float64Var(&cfg.rate, "rate", 200, "edge requests per second, half checkout, half browse")
	flag.DurationVar(&cfg.probe, "probe", 2*time.Second, "the route table's probe interval")
	flag.BoolVar(&cfg.check, "check", false, "exit 1 if the route table misses the G17 bounds")
	flag.Parse()
	if cfg.warmup < time.Second || cfg.outage < 2*time.Second || cfg.after <= 0 || cfg.rate < 10 || cfg.probe <= 0 {
		fmt.Fprintln(os.Stderr, "routes: want -warmup ≥ 1s, -outage ≥ 2s, -after > 0, -rate ≥ 10, -probe > 0")
		os.Exit(2)
	}
	fmt.Printf("edge → api (/checkout → payments, /browse → catalog); %.0f req/s 50/50; payments down %v after %v; probe every %v\n\n",
		cfg.rate, cfg.outage, cfg.warmup, cfg.probe)
	without := run(cfg, false)
	with := run(cfg, true)
	printTable(os.Stdout, cfg, without, with)
	if cfg.check && !check(os.Stdout, with) {
		os.Exit(1)
	}
}

// A system is edge → api → {payments, catalog} on loopback.
type system struct {
	paymentsDown atomic.Bool
	window       atomic.Bool  // the measured part of the outage is on
	apiCheckouts atomic.Int64 // checkout requests that reached api in the window
	servers      []*http.Server
	clients      []*http.Client
	edge         *http.Client
	apiURL       string
}

func serve(h http.Handler) (*http.Server, string) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(lis) //nolint:errcheck // returns when the server closes
	return srv, "http://" + lis.Addr().String()
}

// client returns the client stack of one backend, with its own retry
// budget (stack's process budget would be shared between the setups).
func client(name string, opts ...httpx.TransportOption) *http.Client {
	p := stack.Client(stack.WithName(name), stack.WithBudget(retry.NewBudget()))
	return &http.Client{Transport: httpx.NewTransport(&http.Transport{MaxIdleConnsPerHost: 256}, p, opts...)}
}

func newSystem(withRoutes bool, probe time.Duration) *system {
	s := &system{}
	ok := func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }
	payments, paymentsURL := serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.paymentsDown.Load() {
			if c, _, err := http.NewResponseController(w).Hijack(); err == nil {
				c.Close() // down: the connection drops, no answer
				return
			}
		}
		ok(w, r)
	}))
	catalog, catalogURL := serve(http.HandlerFunc(ok))
	toPayments := client("payments", httpx.WithDependency("payments", breaker.ErrOpen))
	toCatalog := client("catalog", httpx.WithDependency("catalog", breaker.ErrOpen))
	relay := func(c *http.Client, url string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, url, nil)
			resp, err := c.Do(req)
			if err != nil {
				httpx.Error(w, err) // an open breaker: 503 naming the dependency
				return
			}
			defer resp.Body.Close()
			if resp.StatusCode >= 500 {
				httpx.Error(w, httpx.ResponseError(resp))
				return
			}
			io.Copy(w, resp.Body)
		}
	}
	mux := http.NewServeMux()
	mux.Handle("POST /checkout", relay(toPayments, paymentsURL))
	mux.Handle("GET /browse", relay(toCatalog, catalogURL))
	counted := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/checkout" && s.window.Load() {
			s.apiCheckouts.Add(1)
		}
		mux.ServeHTTP(w, r)
	})
	api, apiURL := serve(httpx.Handler(counted, stack.Server("api")))
	s.servers = []*http.Server{payments, catalog, api}
	s.apiURL = apiURL
	s.edge = client("api")
	if withRoutes {
		s.edge.Transport = httpx.NewRouteTransport(s.edge.Transport, route.New(route.WithProbeInterval(probe)), nil)
	}
	s.clients = []*http.Client{toPayments, toCatalog, s.edge}
	return s
}

func (s *system) close() {
	for _, srv := range s.servers {
		srv.Close()
	}
	for _, c := range s.clients {
		c.CloseIdleConnections()
	}
}

// An outcome is one edge request.
type outcome struct {
	checkout bool
	start    time.Duration // since the run began
	ok       bool
	refused  bool // refused at the edge by the route table
}

// run drives one setup and returns its outcomes.
func run(cfg config, withRoutes bool) result {
	s := newSystem(withRoutes, cfg.probe)
	defer s.close()
	total := cfg.warmup + cfg.outage + cfg.after
	n := int(total.Seconds() * cfg.rate)
	out := make([]outcome, n)
	var wg sync.WaitGroup
	begin := time.Now()
	downAt, upAt := cfg.warmup, cfg.warmup+cfg.outage
	for i := range n {
		due := time.Duration(float64(i) / cfg.rate * float64(time.Second))
		time.Sleep(time.Until(begin.Add(due)))
		now := time.Since(begin)
		s.paymentsDown.Store(now >= downAt && now < upAt)
		s.window.Store(now >= downAt+time.Second && now < upAt)
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = s.call(i%2 == 0, now)
		}()
	}
	wg.Wait()
	return result{outcomes: out, downAt: downAt, upAt: upAt, apiCheckouts: s.apiCheckouts.Load()}
}

// call makes one edge request.
func (s *system) call(checkout bool, start time.Duration) outcome {
	o := outcome{checkout: checkout, start: start}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	method, path := http.MethodGet, "/browse"
	if checkout {
		method, path = http.MethodPost, "/checkout"
	}
	req, _ := http.NewRequestWithContext(ctx, method, s.apiURL+path, nil)
	resp, err := s.edge.Do(req)
	if err != nil {
		o.refused = errors.Is(err, route.ErrUnavailable)
		return o
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	o.ok = resp.StatusCode == http.StatusOK
	return o
}
