package httpx

import (
	"context"
	"errors"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/hedge"
)

// safetyNet bounds a wait that a broken implementation would make
// forever; it is never what a test measures.
const safetyNet = 10 * time.Second

// waitFor waits for ch to be closed or to deliver, or fails t after the
// safety net.
func waitFor[T any](t *testing.T, ch <-chan T, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(safetyNet):
		t.Errorf("%s: not within %v", what, safetyNet)
	}
}

// attempts is a policy, placed inside the hedge, that reports the hedge's
// number of each attempt when the attempt returns, and its error.
type attempts struct {
	mu      sync.Mutex
	errs    map[int]error
	ret     map[int]chan struct{} // closed when the attempt returned
	refused chan struct{}         // closed when an attempt returned errNotHedgeable
}

func newAttempts() *attempts {
	return &attempts{errs: map[int]error{}, ret: map[int]chan struct{}{1: make(chan struct{}), 2: make(chan struct{})},
		refused: make(chan struct{})}
}

func (a *attempts) Wrap(next callguard.Handler) callguard.Handler {
	return func(ctx context.Context, call func(context.Context) error) error {
		err := next(ctx, call)
		n, _ := hedge.Attempt(ctx)
		a.mu.Lock()
		a.errs[n] = err
		if ch := a.ret[n]; ch != nil {
			close(ch)
		}
		if errors.Is(err, errNotHedgeable) {
			close(a.refused)
		}
		a.mu.Unlock()
		return err
	}
}

func (a *attempts) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.errs)
}

// bodies is a RoundTripper over a real one that counts the response bodies
// it hands out and those closed.
type bodies struct {
	next           http.RoundTripper
	mu             sync.Mutex
	opened, closed int
}

func (b *bodies) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := b.next.RoundTrip(req)
	if err == nil {
		b.mu.Lock()
		b.opened++
		b.mu.Unlock()
		resp.Body = &countedBody{ReadCloser: resp.Body, b: b}
	}
	return resp, err
}

func (b *bodies) open() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.opened - b.closed
}

type countedBody struct {
	io.ReadCloser
	b    *bodies
	once sync.Once
}

func (c *countedBody) Close() error {
	c.once.Do(func() {
		c.b.mu.Lock()
		c.b.closed++
		c.b.mu.Unlock()
	})
	return c.ReadCloser.Close()
}

// hedgeNow hedges every call it is allowed to at once, within a budget that
// never runs out in a test.
func hedgeNow(opts ...hedge.Option) *hedge.Hedger {
	return hedge.New(append([]hedge.Option{hedge.WithDelay(0), hedge.WithBudget(1, 1000)}, opts...)...)
}

// TestHedgeLoserBodyClosed: the first attempt of a GET gets a 503 whose
// body is too large to park, once the hedge has reached the server; the
// hedge answers 200 once the first attempt has returned to the client. The
// caller gets the hedge's response, the server sees the attempt numbers
// (none, then 2), and the loser's body is drained and closed: the server
// sees its connection end.
func TestHedgeLoserBodyClosed(t *testing.T) {
	hedgeIn, firstGone := make(chan struct{}), make(chan struct{})
	obs := newAttempts()
	var mu sync.Mutex
	var seen []string
	ts := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		n := r.Header.Get("Callguard-Attempt")
		mu.Lock()
		seen = append(seen, n)
		mu.Unlock()
		switch n {
		case "":
			waitFor(t, hedgeIn, "hedge at the server")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(strings.Repeat("x", 2*maxDrain)))
			w.(http.Flusher).Flush()
			waitFor(t, r.Context().Done(), "loser's connection closed")
			close(firstGone)
		case "2":
			close(hedgeIn)
			waitFor(t, obs.ret[1], "first attempt returned")
			_, _ = io.WriteString(w, "hedge")
		}
	})
	rec := &bodies{next: ts.Client().Transport}
	c := &http.Client{Transport: NewTransport(rec, callguard.Chain(hedgeNow(), obs))}
	resp, err := c.Get(ts.URL)
	if err != nil {
		t.Fatalf("Get = %v, want the hedge's response", err)
	}
	if got := readBody(t, resp); resp.StatusCode != http.StatusOK || got != "hedge" {
		t.Errorf("response = %d %q, want 200 \"hedge\"", resp.StatusCode, got)
	}
	waitFor(t, firstGone, "loser's connection closed")
	if n := rec.open(); n != 0 {
		t.Errorf("%d response bodies left open, want 0", n)
	}
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(seen)
	if !slices.Equal(seen, []string{"", "2"}) {
		t.Errorf("server saw Callguard-Attempt %q, want none and \"2\"", seen)
	}
}

// TestHedgeBodyReplayed: a PUT is idempotent; its hedge sends the same
// body, from GetBody. Each attempt waits until the other has arrived.
func TestHedgeBodyReplayed(t *testing.T) {
	firstIn, hedgeIn := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	bodiesSeen := map[string]string{}
	ts := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		n := r.Header.Get("Callguard-Attempt")
		mu.Lock()
		bodiesSeen[n] = string(b)
		mu.Unlock()
		if n == "" {
			close(firstIn)
			waitFor(t, hedgeIn, "hedge at the server")
			waitFor(t, r.Context().Done(), "first attempt cancelled") // the hedge won
			return
		}
		close(hedgeIn)
		waitFor(t, firstIn, "first attempt at the server")
		_, _ = io.WriteString(w, "ok")
	})
	c := newClient(ts, hedgeNow())
	req, _ := http.NewRequest(http.MethodPut, ts.URL, strings.NewReader("payload"))
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("Do(PUT) = %v, want the hedge's response", err)
	}
	if got := readBody(t, resp); got != "ok" {
		t.Errorf("body = %q, want ok", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := map[string]string{"": "payload", "2": "payload"}; !maps.Equal(bodiesSeen, want) {
		t.Errorf("bodies by attempt = %q, want %q", bodiesSeen, want)
	}
}

// TestHedgeNeverPost: a POST without an Idempotency-Key is sent once, even
// when its caller marked its context safe, and even under a hedge that
// hedges everything: the transport refuses the overlapping attempt. The
// server answers once the client's decision is known.
func TestHedgeNeverPost(t *testing.T) {
	tests := []struct {
		name         string
		give         *hedge.Hedger
		wantAttempts int // attempts the policy started
	}{
		{"default hedge: the transport marks it unsafe", hedgeNow(), 1},
		{"hedge of every call: the transport refuses the hedge", hedgeNow(hedge.WithSafe(func(context.Context) bool { return true })), 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obs := newAttempts()
			var mu sync.Mutex
			requests := 0
			ts := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				requests++
				mu.Unlock()
				if tt.wantAttempts == 2 {
					// The hedge may start before the first attempt: then the
					// first is the one refused.
					waitFor(t, obs.refused, "overlapping attempt refused")
				}
				_, _ = io.WriteString(w, "created")
			})
			c := newClient(ts, callguard.Chain(tt.give, obs))
			ctx := callguard.ContextSafe(context.Background())
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, ts.URL, strings.NewReader("order"))
			resp, err := c.Do(req)
			if err != nil {
				t.Fatalf("Do(POST) = %v, want the server's answer", err)
			}
			readBody(t, resp)
			mu.Lock()
			defer mu.Unlock()
			if requests != 1 {
				t.Errorf("server got %d requests, want 1", requests)
			}
			if n := obs.count(); n != tt.wantAttempts {
				t.Errorf("policy ran %d attempts, want %d", n, tt.wantAttempts)
			}
			obs.mu.Lock()
			defer obs.mu.Unlock()
			refused := 0
			for _, err := range obs.errs {
				if errors.Is(err, errNotHedgeable) {
					refused++
				}
			}
			if want := tt.wantAttempts - 1; refused != want {
				t.Errorf("%d attempts refused as not hedgeable (%v), want %d", refused, obs.errs, want)
			}
		})
	}
}

// TestHedgeIdempotencyKey: a POST with an Idempotency-Key is hedged.
func TestHedgeIdempotencyKey(t *testing.T) {
	hedgeIn := make(chan struct{})
	ts := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // else the server does not see the client go
		if r.Header.Get("Callguard-Attempt") == "" {
			waitFor(t, hedgeIn, "hedge at the server")
			waitFor(t, r.Context().Done(), "first attempt cancelled")
			return
		}
		close(hedgeIn)
		_, _ = io.WriteString(w, "hedged")
	})
	c := newClient(ts, hedgeNow())
	req, _ := http.NewRequest(http.MethodPost, ts.URL, strings.NewReader("order"))
	req.Header.Set("Idempotency-Key", "k-1")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("Do(POST with Idempotency-Key) = %v", err)
	}
	if got := readBody(t, resp); got != "hedged" {
		t.Errorf("body = %q, want hedged", got)
	}
}

func TestHedgeable(t *testing.T) {
	body := func() *http.Request {
		r, _ := http.NewRequest(http.MethodPut, "http://x", strings.NewReader("b"))
		return r
	}
	noGetBody := body()
	noGetBody.GetBody = nil
	post, _ := http.NewRequest(http.MethodPost, "http://x", nil)
	keyed, _ := http.NewRequest(http.MethodPatch, "http://x", nil)
	keyed.Header.Set("Idempotency-Key", "k")
	tests := []struct {
		name string
		give *http.Request
		want bool
	}{
		{"GET", httptestRequest(http.MethodGet), true},
		{"HEAD", httptestRequest(http.MethodHead), true},
		{"OPTIONS", httptestRequest(http.MethodOptions), true},
		{"TRACE", httptestRequest(http.MethodTrace), true},
		{"DELETE", httptestRequest(http.MethodDelete), true},
		{"PUT with GetBody", body(), true},
		{"PUT without GetBody", noGetBody, false},
		{"POST", post, false},
		{"PATCH with Idempotency-Key", keyed, true},
	}
	for _, tt := range tests {
		if got := Hedgeable(tt.give); got != tt.want {
			t.Errorf("%s: Hedgeable = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func httptestRequest(method string) *http.Request {
	r, _ := http.NewRequest(method, "http://x", nil)
	return r
}
