package httpx

import (
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/hedge"
	"github.com/callguard/callguard/loadshed"
)

// attemptLog is a handler that records callguard.InboundAttempt of each
// request, and whether its handler saw a Callguard-Attempt header, and
// fails the first fails requests with 503.
type attemptLog struct {
	fails   int
	mu      sync.Mutex
	seen    []int
	headers int
}

func (l *attemptLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	l.mu.Lock()
	l.seen = append(l.seen, callguard.InboundAttempt(r.Context()))
	if r.Header.Get("Callguard-Attempt") != "" {
		l.headers++
	}
	fail := len(l.seen) <= l.fails
	l.mu.Unlock()
	if fail {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	_, _ = io.WriteString(w, "ok")
}

// amplification returns the requests the server got per first attempt.
func (l *attemptLog) amplification() float64 {
	first := 0
	for _, n := range l.seen {
		if n == 1 {
			first++
		}
	}
	return float64(len(l.seen)) / float64(first)
}

// TestAttemptsReachServer: a client that retries twice on 503s sends
// attempts 1, 2 and 3, and the server reads them (callguard.InboundAttempt):
// it measures an amplification of 3. An Edge server ignores them and
// removes the header from what its handler sees.
func TestAttemptsReachServer(t *testing.T) {
	tests := []struct {
		name        string
		opts        []HandlerOption
		want        []int
		wantHeaders int
	}{
		{"trusted", nil, []int{1, 2, 3}, 2},
		{"edge", []HandlerOption{Edge()}, []int{1, 1, 1}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := &attemptLog{fails: 2}
			ts := newServer(t, Handler(log, nil, tt.opts...).ServeHTTP)
			resp, err := newClient(ts, fastRetry(3)).Get(ts.URL)
			if err != nil {
				t.Fatal(err)
			}
			readBody(t, resp)
			log.mu.Lock()
			defer log.mu.Unlock()
			if !slices.Equal(log.seen, tt.want) || log.headers != tt.wantHeaders {
				t.Errorf("server saw attempts %v, %d headers; want %v, %d", log.seen, log.headers, tt.want, tt.wantHeaders)
			}
			if tt.name == "trusted" && log.amplification() != 3 {
				t.Errorf("amplification = %v, want 3", log.amplification())
			}
		})
	}
}

// TestHedgeAttemptsReachServer: a hedge inside a retry. The requests meet
// in pairs at the server (each waits until its partner has arrived, which
// makes the hedge start while the first attempt runs) and all fail, so the
// retry runs a second round. Round 1 sends attempts 1 and 2 (its hedge),
// round 2 attempts 2 and 3: the server counts 4 requests for 1 first
// attempt.
func TestHedgeAttemptsReachServer(t *testing.T) {
	var mu sync.Mutex
	var seen []int
	pairs := [...]chan struct{}{make(chan struct{}), make(chan struct{}), make(chan struct{})}
	ts := newServer(t, Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		i := len(seen)
		seen = append(seen, callguard.InboundAttempt(r.Context()))
		if i%2 == 1 {
			close(pairs[i/2])
		}
		mu.Unlock()
		waitFor(t, pairs[i/2], "the other request of the pair")
		w.WriteHeader(http.StatusServiceUnavailable)
	}), nil).ServeHTTP)
	p := callguard.Chain(fastRetry(2), hedge.New(hedge.WithDelay(0), hedge.WithBudget(1, 1000)))
	resp, err := newClient(ts, p).Get(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	readBody(t, resp)
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(seen)
	if want := []int{1, 2, 2, 3}; !slices.Equal(seen, want) {
		t.Errorf("server saw attempts %v, want %v", seen, want)
	}
}

// TestServerShedsRetriesFirst: a server limiter of 2 slots, one held by a
// request in progress. A retry (Callguard-Attempt: 2, as a client's retry
// sends it) is shed, a first attempt is served; an Edge server ignores the
// number and serves both.
func TestServerShedsRetriesFirst(t *testing.T) {
	tests := []struct {
		name      string
		opts      []HandlerOption
		wantRetry int
	}{
		{"trusted", nil, http.StatusServiceUnavailable},
		{"edge", []HandlerOption{Edge()}, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			entered, release := make(chan struct{}), make(chan struct{})
			lim := loadshed.New(loadshed.WithFixedLimit(2), loadshed.WithShare(loadshed.Default, 1))
			ts := newServer(t, Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/hold" {
					close(entered)
					waitFor(t, release, "release")
				}
			}), lim, tt.opts...).ServeHTTP)
			held := make(chan error, 1)
			go func() {
				resp, err := ts.Client().Get(ts.URL + "/hold")
				if err == nil {
					resp.Body.Close()
				}
				held <- err
			}()
			waitFor(t, entered, "held request at the server")
			get := func(attempt string) int {
				req, _ := http.NewRequest(http.MethodGet, ts.URL, nil)
				if attempt != "" {
					req.Header.Set("Callguard-Attempt", attempt)
				}
				resp, err := ts.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return resp.StatusCode
			}
			if got := get("2"); got != tt.wantRetry {
				t.Errorf("retry: status %d, want %d", got, tt.wantRetry)
			}
			if got := get(""); got != http.StatusOK {
				t.Errorf("first attempt: status %d, want 200", got)
			}
			close(release)
			if err := <-held; err != nil {
				t.Error(err)
			}
		})
	}
}
