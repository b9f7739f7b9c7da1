package httpx_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/breaker"
	"github.com/callguard/callguard/callguardtest"
	"github.com/callguard/callguard/httpx"
	"github.com/callguard/callguard/internal/race"
	"github.com/callguard/callguard/loadshed"
	"github.com/callguard/callguard/route"
)

// routeSystem is edge → api → {payments, catalog} on loopback: api's
// /checkout calls payments through a breaker, /browse calls catalog.
type routeSystem struct {
	payments   *breaker.Breaker // api's breaker for payments
	apiBreaker *breaker.Breaker // the edge's breaker for api
	apiHits    atomic.Int64     // requests that reached api
	api        *httptest.Server
	table      *route.Table // the edge's table of api's routes
	clock      *callguardtest.Clock
	edgeClient *http.Client // the edge's client of api
}

func newRouteSystem(t *testing.T) *routeSystem {
	t.Helper()
	s := &routeSystem{clock: callguardtest.NewClock()}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	payments, catalog := httptest.NewServer(ok), httptest.NewServer(ok)
	t.Cleanup(payments.Close)
	t.Cleanup(catalog.Close)

	s.payments = breaker.New(breaker.WithName("payments"))
	toPayments := &http.Client{Transport: httpx.NewTransport(nil, s.payments, httpx.WithDependency("payments", breaker.ErrOpen))}
	toCatalog := &http.Client{Transport: httpx.NewTransport(nil, breaker.New(), httpx.WithDependency("catalog", breaker.ErrOpen))}
	t.Cleanup(toPayments.CloseIdleConnections)
	t.Cleanup(toCatalog.CloseIdleConnections)
	relay := func(c *http.Client, url string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, url, nil)
			resp, err := c.Do(req)
			if err != nil {
				httpx.Error(w, err)
				return
			}
			defer resp.Body.Close()
			io.Copy(w, resp.Body)
		}
	}
	mux := http.NewServeMux()
	mux.Handle("POST /checkout", relay(toPayments, payments.URL))
	mux.Handle("GET /browse", relay(toCatalog, catalog.URL))
	counted := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.apiHits.Add(1); mux.ServeHTTP(w, r) })
	s.api = httptest.NewServer(httpx.Handler(counted, nil))
	t.Cleanup(s.api.Close)

	s.table = route.New(route.WithClock(s.clock))
	s.apiBreaker = breaker.New(breaker.WithName("api"))
	toAPI := httpx.NewTransport(nil, s.apiBreaker, httpx.WithDependency("api", breaker.ErrOpen))
	s.edgeClient = &http.Client{Transport: httpx.NewRouteTransport(toAPI, s.table, nil)}
	t.Cleanup(s.edgeClient.CloseIdleConnections)
	return s
}

// call makes one request from the edge to api and returns its status, or
// 0 and the error.
func (s *routeSystem) call(t *testing.T, method, path string, hdr ...string) (int, http.Header, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second) // a safety net only
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, method, s.api.URL+path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := s.edgeClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header, nil
}

func TestRouteAvailabilityHTTP(t *testing.T) {
	s := newRouteSystem(t)
	s.payments.ForceOpen() // payments is down, as api's breaker sees it

	code, hdr, err := s.call(t, "POST", "/checkout")
	if err != nil || code != http.StatusServiceUnavailable || hdr.Get(httpx.UnavailableHeader) != "payments" {
		t.Fatalf("first checkout = %d %v, %s %q; want 503 naming payments", code, err, httpx.UnavailableHeader, hdr.Get(httpx.UnavailableHeader))
	}
	before := s.apiHits.Load()
	for range 10 {
		_, _, err := s.call(t, "POST", "/checkout")
		if !errors.Is(err, route.ErrUnavailable) || !errors.Is(err, callguard.ErrRejected) {
			t.Fatalf("checkout = %v, want a refusal matching route.ErrUnavailable and callguard.ErrRejected", err)
		}
		if code, _, err := s.call(t, "GET", "/browse"); err != nil || code != http.StatusOK {
			t.Fatalf("browse = %d, %v; want 200", code, err)
		}
	}
	if got := s.apiHits.Load() - before; got != 10 {
		t.Errorf("requests reaching api = %d, want 10 (browse only)", got)
	}

	// A probe per second: the first still meets the open breaker.
	s.clock.Advance(route.DefaultProbeInterval)
	if code, _, err := s.call(t, "POST", "/checkout"); err != nil || code != http.StatusServiceUnavailable {
		t.Fatalf("probe while payments is down = %d, %v; want 503 from api", code, err)
	}
	if _, _, err := s.call(t, "POST", "/checkout"); !errors.Is(err, route.ErrUnavailable) {
		t.Fatalf("checkout after a failed probe = %v, want refused", err)
	}

	s.payments.Resume() // payments is back
	s.clock.Advance(route.DefaultProbeInterval)
	if code, _, err := s.call(t, "POST", "/checkout"); err != nil || code != http.StatusOK {
		t.Fatalf("probe after payments is back = %d, %v; want 200", code, err)
	}
	if code, _, err := s.call(t, "POST", "/checkout"); err != nil || code != http.StatusOK {
		t.Errorf("checkout after a successful probe = %d, %v; want 200", code, err)
	}
	if n := s.table.Len(); n != 0 {
		t.Errorf("table Len = %d, want 0", n)
	}
}

// TestRouteWrongEntryHealsHTTP: api once named payments for /browse (a
// handler's mistake); the next probe of /browse is served, and the route
// is back.
func TestRouteWrongEntryHealsHTTP(t *testing.T) {
	s := newRouteSystem(t)
	s.table.Observe("GET /browse", "payments", time.Minute)
	if _, _, err := s.call(t, "GET", "/browse"); !errors.Is(err, route.ErrUnavailable) {
		t.Fatalf("browse = %v, want refused by the wrong entry", err)
	}
	s.clock.Advance(route.DefaultProbeInterval)
	for i := range 3 {
		if code, _, err := s.call(t, "GET", "/browse"); err != nil || code != http.StatusOK {
			t.Fatalf("browse %d after a probe interval = %d, %v; want 200", i, code, err)
		}
	}
}

// TestRouteEdgeUntrusted: a client of an Edge server cannot make the edge
// refuse anything by sending Callguard-Unavailable, even when the edge's
// handler copies its headers onto its call to api; and the Edge server
// names no internal dependency in its answers.
func TestRouteEdgeUntrusted(t *testing.T) {
	s := newRouteSystem(t)
	edge := httptest.NewServer(httpx.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, s.api.URL+r.URL.Path, nil)
		req.Header = r.Header.Clone() // the worst case: everything passed on
		resp, err := s.edgeClient.Do(req)
		if err != nil {
			httpx.Error(w, err)
			return
		}
		defer resp.Body.Close()
		if resp.StatusCode >= 500 {
			httpx.Error(w, httpx.ResponseError(resp))
			return
		}
		io.Copy(w, resp.Body)
	}), nil, httpx.Edge()))
	t.Cleanup(edge.Close)
	c := edge.Client()

	send := func(method, path string) (int, http.Header) {
		t.Helper()
		req, _ := http.NewRequest(method, edge.URL+path, nil)
		req.Header.Set(httpx.UnavailableHeader, "catalog; for=30s")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, resp.Header
	}
	for range 5 {
		if code, _ := send("GET", "/browse"); code != http.StatusOK {
			t.Fatalf("browse with an injected outage = %d, want 200", code)
		}
	}
	if n := s.table.Len(); n != 0 {
		t.Errorf("edge's table Len = %d after injection, want 0", n)
	}

	s.payments.ForceOpen()
	for range 3 {
		code, hdr := send("POST", "/checkout")
		if code != http.StatusServiceUnavailable || hdr.Get(httpx.UnavailableHeader) != "" {
			t.Fatalf("checkout at the edge = %d, %s %q; want 503 naming nothing", code, httpx.UnavailableHeader, hdr.Get(httpx.UnavailableHeader))
		}
	}
	if n := s.table.Len(); n == 0 {
		t.Errorf("edge's table is empty: want it to have learned api's real answer")
	}
	s.apiBreaker.ForceOpen() // the edge's own dependency, api, is down
	if code, hdr := send("GET", "/browse"); code != http.StatusServiceUnavailable || hdr.Get(httpx.UnavailableHeader) != "" {
		t.Errorf("browse with api down = %d, %s %q; want 503 naming nothing", code, httpx.UnavailableHeader, hdr.Get(httpx.UnavailableHeader))
	}
}

func TestWithDependencyPanics(t *testing.T) {
	tests := []struct {
		name     string
		giveName string
		giveDown []error
		want     string
	}{
		{"name", "pay ments", []error{breaker.ErrOpen}, `httpx: WithDependency: invalid dependency name "pay ments"`},
		{"down", "payments", nil, "httpx: WithDependency: no error given that means payments is down"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if got := recover(); got != tt.want {
					t.Errorf("panic = %v, want %q", got, tt.want)
				}
			}()
			httpx.WithDependency(tt.giveName, tt.giveDown...)
		})
	}
}

// okTransport answers every request with its one canned response.
type okTransport struct{ resp *http.Response }

func (t okTransport) RoundTrip(*http.Request) (*http.Response, error) { return t.resp, nil }

func newOK() okTransport {
	return okTransport{&http.Response{StatusCode: 200, Body: http.NoBody, Header: http.Header{}}}
}

// TestRouteTransportAllocs: with no outage in the table, the route
// transport adds no allocation to a request.
func TestRouteTransportAllocs(t *testing.T) {
	if testing.Short() || race.Enabled {
		t.Skip("alloc guard: not with -short or -race")
	}
	var bareRT http.RoundTripper = newOK()
	rt := httpx.NewRouteTransport(bareRT, route.New(), nil)
	req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1/browse", nil)
	bare := testing.AllocsPerRun(100, func() { bareRT.RoundTrip(req) })
	got := testing.AllocsPerRun(100, func() { rt.RoundTrip(req) })
	if got != bare {
		t.Errorf("route transport allocs = %v, bare %v; want no extra", got, bare)
	}
}

func BenchmarkRouteTransport(b *testing.B) {
	req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1/browse", nil)
	linked := route.New()
	linked.Observe("POST /checkout", "payments", time.Hour) // another route is down
	for _, bm := range []struct {
		name string
		rt   http.RoundTripper
	}{
		{"bare", newOK()},
		{"empty", httpx.NewRouteTransport(newOK(), route.New(), nil)},
		{"otherRouteDown", httpx.NewRouteTransport(newOK(), linked, nil)},
	} {
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				bm.rt.RoundTrip(req)
			}
		})
	}
}

// TestRouteForHTTP: a handler that knows how long its dependency stays down
// (a breaker's OpenUntil) says so, and the edge refuses the route for that
// long, no longer.
func TestRouteForHTTP(t *testing.T) {
	api := httptest.NewServer(httpx.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpx.Error(w, &route.UnavailableError{Dependency: "payments", For: 3 * time.Second, Err: breaker.ErrOpen})
	}), nil))
	t.Cleanup(api.Close)
	clock := callguardtest.NewClock()
	table := route.New(route.WithClock(clock), route.WithProbeInterval(time.Hour))
	c := &http.Client{Transport: httpx.NewRouteTransport(nil, table, func(*http.Request) string { return "checkout" })}
	t.Cleanup(c.CloseIdleConnections)
	resp, err := c.Get(api.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get(httpx.UnavailableHeader); got != "payments; for=3s" {
		t.Errorf("%s = %q, want %q", httpx.UnavailableHeader, got, "payments; for=3s")
	}
	clock.Advance(3*time.Second - time.Millisecond)
	if _, err := c.Get(api.URL); !errors.Is(err, route.ErrUnavailable) {
		t.Errorf("before the announced end: %v, want refused", err)
	}
	clock.Advance(time.Millisecond)
	if probe, err := table.Admit("checkout"); probe || err != nil {
		t.Errorf("Admit at the announced end = %v, %v; want send", probe, err)
	}
}

// TestRouteTwoHops checks that an outage named two tiers down reaches the
// edge: orders names payments down; api passes orders' failure on, as a
// handler does with httpx.Error; the edge's route table learns it from
// api's answer and refuses the route itself. api's throttle towards orders
// counts orders' refusals as answers (accepts), not as orders' load.
func TestRouteTwoHops(t *testing.T) {
	var ordersHits atomic.Int64
	orders := httptest.NewServer(httpx.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ordersHits.Add(1)
		httpx.Error(w, &route.UnavailableError{Dependency: "payments", For: 3 * time.Second, Err: breaker.ErrOpen})
	}), nil))
	t.Cleanup(orders.Close)
	throttle := loadshed.NewThrottle()
	toOrders := &http.Client{Transport: httpx.NewTransport(nil, throttle)}
	t.Cleanup(toOrders.CloseIdleConnections)
	api := httptest.NewServer(httpx.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp, err := toOrders.Get(orders.URL)
		if err == nil {
			err = httpx.ResponseError(resp)
			resp.Body.Close()
		}
		if err != nil {
			httpx.Error(w, err) // pass orders' failure on
			return
		}
		w.WriteHeader(http.StatusOK)
	}), nil))
	t.Cleanup(api.Close)

	clock := callguardtest.NewClock()
	table := route.New(route.WithClock(clock), route.WithProbeInterval(time.Hour))
	edge := &http.Client{Transport: httpx.NewRouteTransport(nil, table, func(*http.Request) string { return "checkout" })}
	t.Cleanup(edge.CloseIdleConnections)
	resp, err := edge.Get(api.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get(httpx.UnavailableHeader) == "" {
		t.Fatalf("api answered %d with %s %q; want 503 naming payments", resp.StatusCode, httpx.UnavailableHeader, resp.Header.Get(httpx.UnavailableHeader))
	}
	for range 10 {
		if _, err := edge.Get(api.URL); !errors.Is(err, route.ErrUnavailable) {
			t.Fatalf("edge request after api named payments down: %v, want refused at the edge", err)
		}
	}
	if n := ordersHits.Load(); n != 1 {
		t.Errorf("orders reached %d times, want 1 (the edge refuses the rest)", n)
	}
	if r, a := throttle.Counts(loadshed.Default); r != 1 || a != 1 {
		t.Errorf("api's throttle counts = %d, %d; want 1, 1 (orders answered: a dependency's outage is not orders' load)", r, a)
	}
}
