// Command quickstart shows callguard's policies at work against a real,
// misbehaving HTTP server on 127.0.0.1.
//
// It runs six phases — healthy, flaky, slow, down, healed and a burst — and
// prints, for each, what the client asked for, what reached the server and
// what each policy did: retries, timeouts, breaker transitions and
// rejections. It takes a few seconds and needs no network beyond loopback.
//
//	go run ./examples/quickstart
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/breaker"
	"github.com/callguard/callguard/bulkhead"
	"github.com/callguard/callguard/httpx"
	"github.com/callguard/callguard/retry"
	"github.com/callguard/callguard/timeout"
)

// mode is how the server behaves.
type mode int32

const (
	healthy mode = iota // 200 at once
	flaky               // every third request gets 503
	slow                // answers after 200 ms, slower than the client's timeout
	down                // 500 for every request
	busy                // 200 after 50 ms, for the burst
)

// server is a real net/http server whose behaviour the phases switch.
type server struct {
	mode atomic.Int32
	hits atomic.Int64
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := s.hits.Add(1)
	switch mode(s.mode.Load()) {
	case flaky:
		if n%3 == 0 {
			http.Error(w, "flaky", http.StatusServiceUnavailable)
			return
		}
	case slow:
		wait(r.Context(), 200*time.Millisecond)
	case down:
		http.Error(w, "down", http.StatusInternalServerError)
		return
	case busy:
		wait(r.Context(), 50*time.Millisecond)
	}
	io.WriteString(w, "ok")
}

func wait(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// stats counts what the policies did during one phase.
type stats struct {
	calls, ok, retries, timeouts, open, full atomic.Int64
	mu                                       sync.Mutex
	transitions                              []string
}

func main() {
	srv := &server{}
	ts := httptest.NewServer(srv)
	defer ts.Close()

	var st *stats // the current phase's counters
	pipeline := callguard.Chain(
		retry.New(
			retry.WithMaxAttempts(3),
			retry.WithBackoff(10*time.Millisecond, 100*time.Millisecond),
			retry.OnRetry(func(context.Context, int, error, time.Duration) { st.retries.Add(1) }),
		),
		breaker.New(
			breaker.WithName("flaky-server"),
			breaker.WithOpenTimeout(500*time.Millisecond),
			breaker.OnStateChange(func(_ string, from, to breaker.State) {
				st.mu.Lock()
				defer st.mu.Unlock()
				st.transitions = append(st.transitions, from.String()+"→"+to.String())
			}),
		),
		bulkhead.New(4),
		timeout.New(100*time.Millisecond),
	)

	// The whole pipeline sits in the client's transport: the code that
	// makes requests does not change.
	client := &http.Client{Transport: httpx.NewTransport(ts.Client().Transport, pipeline)}
	call := func() {
		st.calls.Add(1)
		resp, err := client.Get(ts.URL)
		switch {
		case err == nil:
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				st.ok.Add(1)
			}
		case errors.Is(err, breaker.ErrOpen):
			st.open.Add(1)
		case errors.Is(err, bulkhead.ErrFull):
			st.full.Add(1)
		case errors.Is(err, timeout.ErrTimeout):
			st.timeouts.Add(1)
		}
	}

	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\tcalls\tok\tserver hits\tretries\ttimed out\tbreaker open\tbulkhead full\tbreaker\t")
	phase := func(name string, m mode, calls int, concurrent bool) {
		st = &stats{}
		srv.mode.Store(int32(m))
		before := srv.hits.Load()
		var wg sync.WaitGroup
		for range calls {
			if concurrent {
				wg.Go(call)
			} else {
				call()
			}
		}
		wg.Wait()
		tr := strings.Join(st.transitions, " ")
		if tr == "" {
			tr = "-"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t\n", name, st.calls.Load(), st.ok.Load(),
			srv.hits.Load()-before, st.retries.Load(), st.timeouts.Load(), st.open.Load(), st.full.Load(), tr)
	}

	phase("healthy", healthy, 20, false)
	phase("flaky: 1 in 3 → 503", flaky, 20, false)
	phase("slow: 200ms > 100ms timeout", slow, 2, false)
	phase("down: 500s, breaker open", down, 20, false)
	time.Sleep(600 * time.Millisecond) // the breaker's open timeout passes
	phase("healed", healthy, 20, false)
	phase("burst: 20 at once, 4 slots", busy, 20, true)
	tw.Flush()

	fmt.Println(`
healthy  every call succeeds on its first attempt.
flaky    retry absorbs the 503s: every call succeeds; the retries column shows the extra attempts.
slow     each attempt times out after 100ms; after 5 failed attempts in a row the breaker opens.
down     the open breaker rejects every call at once: the dying server sees no traffic, nothing is retried.
healed   after the open timeout one probe goes through, succeeds, and the breaker closes.
burst    the bulkhead lets 4 calls in at a time and rejects the rest at once instead of queueing them.`)
}
