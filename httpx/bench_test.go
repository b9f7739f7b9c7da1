package httpx

import (
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

func TestTransportAllocs(t *testing.T) {
	if testing.Short() || race.Enabled {
		t.Skip("alloc guard: not with -short or -race")
	}
	ts, bare, guarded := loopback(t, clientPolicy())
	b := minAllocs(func() { get(t, bare, ts.URL) })
	g := minAllocs(func() { get(t, guarded, ts.URL) })
	if g-b > 3 {
		t.Errorf("transport allocs = %v per request, bare client %v: %v extra, want <= 3", g, b, g-b)
	}
}

func TestHandlerAllocs(t *testing.T) {
	if testing.Short() || race.Enabled {
		t.Skip("alloc guard: not with -short or -race")
	}
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	b := testing.AllocsPerRun(100, func() { serve(http.HandlerFunc(okHandler), req) })
	h := Handler(http.HandlerFunc(okHandler), serverPolicy())
	g := testing.AllocsPerRun(100, func() { serve(h, req) })
	if g-b > 1 {
		t.Errorf("Handler allocs = %v per request, bare handler %v: %v extra, want <= 1", g, b, g-b)
	}
}

// A cannedTransport answers every request with the same empty response,
// without a network: BenchmarkTransportOnly measures the adapter and its
// policies alone.
type cannedTransport struct{ resp http.Response }

func (c *cannedTransport) RoundTrip(*http.Request) (*http.Response, error) { return &c.resp, nil }

func BenchmarkTransportOnly(b *testing.B) {
	rt := NewTransport(&cannedTransport{http.Response{StatusCode: 200, Body: http.NoBody}}, clientPolicy())
	req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1/", nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := rt.RoundTrip(req); err != nil {
			b.Fatal(err)
		}
	}
}
