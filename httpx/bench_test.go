package httpx

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/breaker"
	"github.com/callguard/callguard/bulkhead"
	"github.com/callguard/callguard/internal/race"
	"github.com/callguard/callguard/retry"
	"github.com/callguard/callguard/timeout"
	"github.com/callguard/callguard/ttl"
)

// clientPolicy is the policy of BenchmarkTransport: the usual client chain
// without a per-attempt timeout.
func clientPolicy() callguard.Policy {
	return callguard.Chain(retry.New(), breaker.New(), bulkhead.New(64))
}

// serverPolicy is the policy of BenchmarkHandler.
func serverPolicy() callguard.Policy {
	return callguard.Chain(breaker.New(), bulkhead.New(64))
}

// loopback starts a server for the client benchmarks and returns it with
// the bare client and the client through NewTransport, which share one
// *http.Transport (same settings, same pool of connections).
func loopback(tb testing.TB, p callguard.Policy) (ts *httptest.Server, bare, guarded *http.Client) {
	ts = httptest.NewServer(http.HandlerFunc(okHandler))
	tb.Cleanup(ts.Close)
	bare = ts.Client()
	return ts, bare, &http.Client{Transport: NewTransport(bare.Transport, p)}
}

func get(tb testing.TB, c *http.Client, url string) {
	resp, err := c.Get(url)
	if err != nil {
		tb.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

func BenchmarkBareClient(b *testing.B) {
	ts, c, _ := loopback(b, nil)
	b.ReportAllocs()
	for b.Loop() {
		get(b, c, ts.URL)
	}
}

func BenchmarkTransport(b *testing.B) {
	ts, _, c := loopback(b, clientPolicy())
	b.ReportAllocs()
	for b.Loop() {
		get(b, c, ts.URL)
	}
}

// BenchmarkTransportWithTimeout adds a per-attempt timeout, which makes
// the transport link the attempt's context to the response body.
func BenchmarkTransportWithTimeout(b *testing.B) {
	ts, _, c := loopback(b, callguard.Chain(clientPolicy(), timeout.New(time.Second)))
	b.ReportAllocs()
	for b.Loop() {
		get(b, c, ts.URL)
	}
}

func serve(h http.Handler, req *http.Request) {
	h.ServeHTTP(httptest.NewRecorder(), req)
}

func BenchmarkBareHandler(b *testing.B) {
	h := http.HandlerFunc(okHandler)
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	b.ReportAllocs()
	for b.Loop() {
		serve(h, req)
	}
}

func BenchmarkHandler(b *testing.B) {
	h := Handler(http.HandlerFunc(okHandler), serverPolicy())
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	b.ReportAllocs()
	for b.Loop() {
		serve(h, req)
	}
}

// BenchmarkHandlerWithTimeout adds a timeout policy, whose context the
// handler's request then carries.
func BenchmarkHandlerWithTimeout(b *testing.B) {
	h := Handler(http.HandlerFunc(okHandler), callguard.Chain(serverPolicy(), timeout.New(time.Second)))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	b.ReportAllocs()
	for b.Loop() {
		serve(h, req)
	}
}

// minAllocs returns the smallest of a few AllocsPerRun measurements of f:
// the loopback client's allocations (server goroutines included) vary a
// little from run to run.
func minAllocs(f func()) float64 {
	least := testing.AllocsPerRun(100, f)
	for i := 0; i < 4; i++ {
		least = min(least, testing.AllocsPerRun(100, f))
	}
	return least
}

// TestTransportAllocs guards the adapter without propagation against the
// bare client on loopback; TestPropagationAllocs guards what propagation
// adds. (On loopback, the server's parsing of the extra headers adds about
// two allocations per header to the figure of the whole round trip.)
func TestTransportAllocs(t *testing.T) {
	if testing.Short() || race.Enabled {
		t.Skip("alloc guard: not with -short or -race")
	}
	ts, bare, _ := loopback(t, nil)
	guarded := &http.Client{Transport: NewTransport(bare.Transport, clientPolicy(), WithPropagation(false))}
	b := minAllocs(func() { get(t, bare, ts.URL) })
	g := minAllocs(func() { get(t, guarded, ts.URL) })
	if g-b > 3 {
		t.Errorf("transport allocs = %v per request, bare client %v: %v extra, want <= 3", g, b, g-b)
	}
}

// propagating returns the context of a request that billing serves and
// that came from gateway through orders with 12 hops and a deadline in an
// hour, with a request id: every header to send.
func propagating(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	tb.Cleanup(cancel)
	ctx = callguard.ContextWithRequestID(ttl.Inbound(ctx, "12", "gateway,orders"), "0123456789abcdef")
	_ = ttl.New(ttl.WithService("billing")).Do(ctx, func(c context.Context) error { ctx = c; return nil })
	return ctx
}

func TestPropagationAllocs(t *testing.T) {
	if testing.Short() || race.Enabled {
		t.Skip("alloc guard: not with -short or -race")
	}
	canned := &cannedTransport{http.Response{StatusCode: 200, Body: http.NoBody}}
	off := NewTransport(canned, clientPolicy(), WithPropagation(false))
	on := NewTransport(canned, clientPolicy())
	plain := httptest.NewRequest(http.MethodGet, "http://127.0.0.1/", nil)
	full := plain.WithContext(propagating(t))
	tests := []struct {
		name string
		req  *http.Request
		want float64 // allocations added by propagation
	}{
		{"hops only", plain, 3},               // the request's copy, its header map (2)
		{"hops, path, deadline, id", full, 4}, // and the deadline's value (the path is joined once per request)
	}
	for _, tt := range tests {
		b := testing.AllocsPerRun(100, func() { off.RoundTrip(tt.req) })
		g := testing.AllocsPerRun(100, func() { on.RoundTrip(tt.req) })
		if g-b > tt.want {
			t.Errorf("%s: RoundTrip allocs = %v with propagation, %v without: %v extra, want <= %v", tt.name, g, b, g-b, tt.want)
		}
	}
}

// TestHandlerAllocs guards Handler with a request without callguard
// headers: two allocations, the request's own state with the
// ResponseWriter that the handler gets, and the call's closure. Such a
// request carries no hop state, so its context and request are not copied.
func TestHandlerAllocs(t *testing.T) {
	if testing.Short() || race.Enabled {
		t.Skip("alloc guard: not with -short or -race")
	}
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	b := testing.AllocsPerRun(100, func() { serve(http.HandlerFunc(okHandler), req) })
	h := Handler(http.HandlerFunc(okHandler), serverPolicy())
	g := testing.AllocsPerRun(100, func() { serve(h, req) })
	if g-b > 2 {
		t.Errorf("Handler allocs = %v per request, bare handler %v: %v extra, want <= 2", g, b, g-b)
	}
}

// A cannedTransport answers every request with the same empty response,
// without a network: BenchmarkTransportOnly measures the adapter and its
// policies alone.
type cannedTransport struct{ resp http.Response }

func (c *cannedTransport) RoundTrip(*http.Request) (*http.Response, error) { return &c.resp, nil }

func BenchmarkTransportOnly(b *testing.B) {
	benchmarkTransportOnly(b, httptest.NewRequest(http.MethodGet, "http://127.0.0.1/", nil))
}

// BenchmarkTransportOnlyNoPropagation is BenchmarkTransportOnly without
// the callguard headers: the cost of the adapter alone.
func BenchmarkTransportOnlyNoPropagation(b *testing.B) {
	benchmarkTransportOnly(b, httptest.NewRequest(http.MethodGet, "http://127.0.0.1/", nil), WithPropagation(false))
}

// BenchmarkTransportOnlyPropagation sends every header: hops, path,
// deadline and request id.
func BenchmarkTransportOnlyPropagation(b *testing.B) {
	benchmarkTransportOnly(b, httptest.NewRequestWithContext(propagating(b), http.MethodGet, "http://127.0.0.1/", nil))
}

func benchmarkTransportOnly(b *testing.B, req *http.Request, opts ...TransportOption) {
	rt := NewTransport(&cannedTransport{http.Response{StatusCode: 200, Body: http.NoBody}}, clientPolicy(), opts...)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := rt.RoundTrip(req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTransportPropagation is BenchmarkTransport with every header,
// to a server that reads them all: Handler with a TTL policy.
func BenchmarkTransportPropagation(b *testing.B) {
	ts := httptest.NewServer(Handler(http.HandlerFunc(okHandler), ttl.New(ttl.WithService("server"))))
	b.Cleanup(ts.Close)
	c := &http.Client{Transport: NewTransport(ts.Client().Transport, clientPolicy())}
	req, _ := http.NewRequestWithContext(propagating(b), http.MethodGet, ts.URL, nil)
	b.ReportAllocs()
	for b.Loop() {
		resp, err := c.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// BenchmarkHandlerPropagation is BenchmarkHandler with a request that
// carries every header, through a TTL policy that checks the path.
func BenchmarkHandlerPropagation(b *testing.B) {
	p := callguard.Chain(ttl.New(ttl.WithService("billing")), serverPolicy())
	h := Handler(http.HandlerFunc(okHandler), p, WithMinServiceTime(time.Millisecond))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Callguard-Hops", "12")
	req.Header.Set("Callguard-Path", "gateway,orders")
	req.Header.Set("Callguard-Timeout", "1S")
	req.Header.Set("X-Request-Id", "0123456789abcdef")
	b.ReportAllocs()
	for b.Loop() {
		serve(h, req)
	}
}
