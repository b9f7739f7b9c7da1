package loadshed_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callguard/callguard/httpx"
	"github.com/callguard/callguard/loadshed"
)

// Overload as a whole system, with real load on loopback and its goodput
// and latency, is measured by the load harness (cd loadtest && go run .),
// not here: figures of wall-clock time fail on a busy machine. The
// simulation in sim_test.go checks the limiter's behaviour under overload
// on a fake clock; this file checks, over real HTTP, the facts that do not
// depend on timing.

// A gated service holds every request until open is closed or its client
// goes away, and says on entered when one starts.
type gated struct {
	open    chan struct{}
	entered chan struct{}
	served  atomic.Int64
}

func newGated() *gated {
	return &gated{open: make(chan struct{}), entered: make(chan struct{}, 100)}
}

func (g *gated) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.served.Add(1)
	g.entered <- struct{}{}
	select {
	case <-g.open:
		io.WriteString(w, "ok")
	case <-r.Context().Done():
	}
}

// send sends a GET with priority p and returns the response's status and
// Callguard-Pushback, or 0 and the error.
func send(ctx context.Context, c *http.Client, url string, p loadshed.Priority) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	req.Header.Set(loadshed.PriorityHeader, p.String())
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Callguard-Pushback"), nil
}

// waitFor waits until cond holds; it fails the test after 10s, far beyond
// what the condition needs on any machine.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting after 10s for %s", what)
		}
	}
}

// TestHTTPFullLimiter fills a limiter behind httpx.Handler with requests
// that a real HTTP service holds, and checks what the limiter does when it
// is full and when a slot frees: a refusal is a 503 with "don't retry"
// that never reaches the handler, whatever the priority; a client that
// gives up frees its slot; the next critical request gets it.
func TestHTTPFullLimiter(t *testing.T) {
	svc := newGated()
	lim := loadshed.New(loadshed.WithFixedLimit(4))
	ts := httptest.NewServer(httpx.Handler(svc, lim))
	defer ts.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: 16}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}

	var wg sync.WaitGroup
	statuses := make([]int, 5)
	hold := func(ctx context.Context, i int) {
		wg.Go(func() { statuses[i], _, _ = send(ctx, c, ts.URL, loadshed.Critical) })
		<-svc.entered
	}
	giveUp, cancel := context.WithCancel(context.Background())
	hold(giveUp, 0)
	for i := 1; i < 4; i++ {
		hold(context.Background(), i)
	}

	// A limiter that admitted these would let them wait for the gate: give
	// up on them after a time far beyond a refusal's.
	probe, stop := context.WithTimeout(context.Background(), 10*time.Second)
	defer stop()
	for _, p := range []loadshed.Priority{loadshed.Sheddable, loadshed.Default, loadshed.Critical} {
		code, pushback, err := send(probe, c, ts.URL, p)
		if code != http.StatusServiceUnavailable || pushback != "-1" {
			t.Errorf("%v request to a full limiter = %d, pushback %q, %v; want 503, -1", p, code, pushback, err)
		}
		if n := lim.Shed(p); n != 1 {
			t.Errorf("Shed(%v) = %d, want 1", p, n)
		}
	}

	cancel() // the first client gives up: its slot frees
	waitFor(t, "the slot of the request whose client gave up", func() bool { return lim.InFlight() == 3 })
	hold(context.Background(), 4)
	close(svc.open)
	wg.Wait()

	if got := svc.served.Load(); got != 5 {
		t.Errorf("handler ran %d times, want 5: the shed requests never reach it", got)
	}
	for i, want := range []int{0, 200, 200, 200, 200} {
		if statuses[i] != want {
			t.Errorf("held request %d = %d, want %d", i, statuses[i], want)
		}
	}
	waitFor(t, "every slot released", func() bool { return lim.InFlight() == 0 })
}
