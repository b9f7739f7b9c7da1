package httpx_test

import (
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/breaker"
	"github.com/callguard/callguard/httpx"
	"github.com/callguard/callguard/loadshed"
	"github.com/callguard/callguard/retry"
	"github.com/callguard/callguard/timeout"
	"github.com/callguard/callguard/ttl"
)

// serve starts h on 127.0.0.1 and returns its URL; the server and its
// clients' idle connections close when the test ends.
func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// newClient returns a client with its own connections, closed when the
// test ends, that sends requests through p (nil: no policy, a bare client).
func newClient(t *testing.T, p callguard.Policy) *http.Client {
	t.Helper()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	if p == nil {
		return &http.Client{Transport: tr}
	}
	return &http.Client{Transport: httpx.NewTransport(tr, p)}
}

// get sends a GET to url with ctx and returns the response's status and
// headers, its body read and closed.
func get(t *testing.T, ctx context.Context, c *http.Client, url string, hdr ...string) (int, http.Header) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header
}

// counted returns h behind a counter of the requests that reach it.
func counted(n *atomic.Int64, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		h.ServeHTTP(w, r)
	})
}

// fullLimiter returns a fixed limiter whose every slot is held until the
// test ends, so that it sheds every request of priority p and below.
func fullLimiter(t *testing.T, n int, p loadshed.Priority, opts ...loadshed.Option) *loadshed.Limiter {
	t.Helper()
	l := loadshed.New(append([]loadshed.Option{loadshed.WithFixedLimit(4)}, opts...)...)
	ctx := loadshed.NewContext(context.Background(), p)
	for range n {
		tok, err := l.Acquire(ctx)
		if err != nil {
			t.Fatalf("Acquire() = %v", err)
		}
		t.Cleanup(func() { tok.Release(loadshed.Ignored) })
	}
	return l
}

// record returns a policy that runs the call and stores its error in *got.
func record(got *error) callguard.Policy {
	return callguard.PolicyFunc(func(next callguard.Handler) callguard.Handler {
		return func(ctx context.Context, call func(context.Context) error) error {
			*got = next(ctx, call)
			return *got
		}
	})
}

func okHandler(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }

func TestErrorDownstreamExhausted(t *testing.T) {
	resp := func(code int, kv ...string) *http.Response {
		h := http.Header{}
		for i := 0; i+1 < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return &http.Response{StatusCode: code, Header: h, Request: httptest.NewRequest(http.MethodGet, "/", nil)}
	}
	exhausted := func(err error) error {
		return &retry.ExhaustedError{Attempts: 3, Reason: retry.StopMaxAttempts, Err: err}
	}
	tests := []struct {
		name         string
		give         error
		wantStatus   int
		wantPushback string
		wantOutcome  loadshed.Outcome
	}{
		{"exhausted 500", exhausted(httpx.ResponseError(resp(500))), 503, "-1", loadshed.Ignored},
		{"exhausted 503", exhausted(httpx.ResponseError(resp(503))), 503, "-1", loadshed.Ignored},
		{"exhausted timeout", exhausted(timeout.ErrTimeout), 503, "-1", loadshed.Ignored}, // a dependency's,
		{"exhausted with delay", exhausted(callguard.Overloaded(time.Second, nil)), 503, "-1", loadshed.Ignored},
		{"exhausted loop", exhausted(httpx.ResponseError(resp(508, "Callguard-Error", "loop"))), 508, "", loadshed.Success},
		{"503 response", httpx.ResponseError(resp(503)), 503, "-1", loadshed.Ignored},
		{"429 response", httpx.ResponseError(resp(429)), 503, "-1", loadshed.Ignored},
		{"503 response with delay", httpx.ResponseError(resp(503, "Retry-After", "5")), 503, "-1", loadshed.Ignored},
		{"504 response", httpx.ResponseError(resp(504)), 504, "", loadshed.Dropped},
		{"500 response", httpx.ResponseError(resp(500)), 500, "", loadshed.Success},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got error
			h := httpx.Handler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				httpx.Error(w, tt.give)
			}), record(&got))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
			if rec.Code != tt.wantStatus || rec.Header().Get("Callguard-Pushback") != tt.wantPushback || rec.Header().Get("Retry-After") != "" {
				t.Errorf("Error(%v): %d with pushback %q, retry-after %q; want %d with %q and none",
					tt.give, rec.Code, rec.Header().Get("Callguard-Pushback"), rec.Header().Get("Retry-After"), tt.wantStatus, tt.wantPushback)
			}
			if !errors.Is(got, tt.give) {
				t.Errorf("policy saw %v, want %v", got, tt.give)
			}
			if o := loadshed.OutcomeOf(got); o != tt.wantOutcome {
				t.Errorf("OutcomeOf(%v) = %v, want %v", got, o, tt.wantOutcome)
			}
		})
	}
}

// TestHandlerLimiterOutcome checks what a Limiter in the Handler's policy
// learns from each kind of answer, and that it releases every slot.
func TestHandlerLimiterOutcome(t *testing.T) {
	down := &http.Response{StatusCode: 503, Header: http.Header{}, Request: httptest.NewRequest(http.MethodGet, "/", nil)}
	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    loadshed.Outcome
	}{
		{"200", okHandler, loadshed.Success},
		{"404", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }, loadshed.Success},
		{"500 written", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(500) }, loadshed.Success},
		{"503 written", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(503) }, loadshed.Ignored},
		{"504 written", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(504) }, loadshed.Dropped},
		{"Error(ErrOpen)", func(w http.ResponseWriter, _ *http.Request) { httpx.Error(w, breaker.ErrOpen) }, loadshed.Ignored},
		{"Error(503 response)", func(w http.ResponseWriter, _ *http.Request) { httpx.Error(w, httpx.ResponseError(down)) }, loadshed.Ignored},
		{"Error(timeout)", func(w http.ResponseWriter, _ *http.Request) { httpx.Error(w, timeout.ErrTimeout) }, loadshed.Dropped},
		{"Error(canceled)", func(w http.ResponseWriter, _ *http.Request) { httpx.Error(w, context.Canceled) }, loadshed.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got error
			l := loadshed.New()
			url := serve(t, httpx.Handler(tt.handler, callguard.Chain(record(&got), l)))
			get(t, context.Background(), newClient(t, nil), url)
			if o := loadshed.OutcomeOf(got); o != tt.want {
				t.Errorf("limiter saw %v: %v, want %v", got, o, tt.want)
			}
			if n := l.InFlight(); n != 0 {
				t.Errorf("InFlight() = %d after the request, want 0", n)
			}
		})
	}
}

func TestHandlerLimiterShed(t *testing.T) {
	tests := []struct {
		name           string
		limiter        func(t *testing.T) *loadshed.Limiter
		header         []string
		wantStatus     int
		wantPushback   string
		wantRetryAfter string
	}{
		{"shed", func(t *testing.T) *loadshed.Limiter { return fullLimiter(t, 4, loadshed.Critical) },
			nil, 503, "-1", ""},
		{"shed with delay", func(t *testing.T) *loadshed.Limiter {
			return fullLimiter(t, 4, loadshed.Critical, loadshed.WithPushback(1500*time.Millisecond))
		}, nil, 503, "1500", "2"},
		{"deadline too short", func(*testing.T) *loadshed.Limiter { return loadshed.New(loadshed.WithMinServiceTime(time.Minute)) },
			[]string{timeout.Header, timeout.FormatWire(time.Second)}, 504, "-1", ""}, // too late: don't retry
		{"admitted", func(*testing.T) *loadshed.Limiter { return loadshed.New() }, nil, 200, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var served atomic.Int64
			url := serve(t, httpx.Handler(counted(&served, http.HandlerFunc(okHandler)), tt.limiter(t)))
			code, h := get(t, context.Background(), newClient(t, nil), url, tt.header...)
			if code != tt.wantStatus || h.Get("Callguard-Pushback") != tt.wantPushback || h.Get("Retry-After") != tt.wantRetryAfter {
				t.Errorf("GET = %d, pushback %q, Retry-After %q; want %d, %q, %q", code,
					h.Get("Callguard-Pushback"), h.Get("Retry-After"), tt.wantStatus, tt.wantPushback, tt.wantRetryAfter)
			}
			if n := served.Load(); (n == 1) != (tt.wantStatus == 200) {
				t.Errorf("handler ran %d times", n)
			}
		})
	}
}

func TestHandlerExemptAndPriority(t *testing.T) {
	// Three of four slots held: default requests (3/4 of the limit) are
	// shed, critical ones (all of it) admitted.
	l := fullLimiter(t, 3, loadshed.Critical)
	var seen atomic.Int32 // priority the handler saw, + 10
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Store(int32(loadshed.FromContext(r.Context())) + 10)
		okHandler(w, r)
	})
	url := serve(t, httpx.Handler(h, l,
		httpx.WithExempt(func(r *http.Request) bool { return r.URL.Path == "/healthz" }),
		httpx.WithPriority(func(r *http.Request) loadshed.Priority {
			if strings.HasPrefix(r.URL.Path, "/checkout") {
				return loadshed.Critical
			}
			return loadshed.Sheddable
		})))
	c := newClient(t, nil)
	tests := []struct {
		path         string
		header       []string
		wantStatus   int
		wantPriority loadshed.Priority
	}{
		{"/checkout", nil, 200, loadshed.Critical},
		{"/checkout/pay", []string{loadshed.PriorityHeader, "sheddable"}, 200, loadshed.Critical},
		{"/browse", []string{loadshed.PriorityHeader, "critical"}, 503, 0},
		{"/healthz", nil, 200, loadshed.Default}, // exempt: no policy, and no priority set
	}
	for _, tt := range tests {
		seen.Store(0)
		code, _ := get(t, context.Background(), c, url+tt.path, tt.header...)
		if code != tt.wantStatus {
			t.Errorf("GET %s = %d, want %d", tt.path, code, tt.wantStatus)
		}
		if got := seen.Load(); tt.wantStatus == 200 && got != int32(tt.wantPriority)+10 {
			t.Errorf("GET %s: handler saw priority %v, want %v", tt.path, loadshed.Priority(got-10), tt.wantPriority)
		}
	}
	if n := l.InFlight(); n != 3 {
		t.Errorf("InFlight() = %d, want the 3 held", n)
	}
}

// backoff is the tiny backoff of every retrying client in the storm test.
const backoff = 100 * time.Microsecond

// A stack is the call graph edge client → A → B → C, with counters of the
// requests that reach each service.
type stack struct {
	edge    func(ctx context.Context) int // one request into A; the final status
	a, b, c atomic.Int64
}

// callguardTier serves a service that calls next for each request through
// the recommended client pipeline (3 attempts, a retry budget, a breaker
// unless noBreaker) and passes failures on with httpx.Error. budget
// configures the retry budget.
func callguardTier(t *testing.T, name, next string, calls *atomic.Int64, noBreaker bool, budget ...retry.BudgetOption) string {
	ps := []callguard.Policy{retry.New(retry.WithMaxAttempts(3), retry.WithBackoff(backoff, 10*backoff),
		retry.WithBudget(retry.NewBudget(budget...)))}
	if !noBreaker {
		ps = append(ps, breaker.New(breaker.WithName(name)))
	}
	client := newClient(t, callguard.Chain(ps...))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, next, nil)
		resp, err := client.Do(req)
		if err == nil {
			err = httpx.ResponseError(resp)
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		if err != nil {
			httpx.Error(w, err)
			return
		}
		okHandler(w, r)
	})
	return serve(t, counted(calls, httpx.Handler(h, ttl.New(ttl.WithService(name)))))
}

// countedBudget is a retry budget without a minimum rate: 10 tokens to
// start with, and DefaultRatio of a token for each call. The retries it
// allows depend on the calls made, not on the time they take.
var countedBudget = []retry.BudgetOption{retry.WithMinPerSecond(0), retry.WithMaxTokens(10)}

// checkBudget checks that n requests, each failing at C, reached C once
// each plus the retries that countedBudget allows: at least its 10 tokens,
// at most those and DefaultRatio·n.
func checkBudget(t *testing.T, n int, c int64) {
	t.Helper()
	lo, hi := int64(n+10), int64(n+10)+int64(math.Round(retry.DefaultRatio*float64(n)))
	if c < lo || c > hi {
		t.Errorf("%d calls reached C for %d requests, want %d to %d: one each and the budget's retries", c, n, lo, hi)
	}
}

// naiveGet is what a naive client does: up to 3 attempts, retrying any
// error and any 5xx after a tiny backoff. It returns the last status, 0 for
// an error.
func naiveGet(ctx context.Context, c *http.Client, url string) int {
	for attempt := 1; ; attempt++ {
		code := 0
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := c.Do(req); err == nil {
			code = resp.StatusCode
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		if (code != 0 && code < 500) || attempt == 3 || ctx.Err() != nil {
			return code
		}
		time.Sleep(backoff)
	}
}

// naiveTier serves a service that calls next with naiveGet and answers 503
// when that fails.
func naiveTier(t *testing.T, next string, calls *atomic.Int64) string {
	client := newClient(t, nil)
	return serve(t, counted(calls, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if code := naiveGet(r.Context(), client, next); code != http.StatusOK {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		okHandler(w, r)
	})))
}

// TestNoRetryStorm runs requests into A while C fails every request with
// overload, and counts the requests that reach C per request from the edge
// client. Every client makes up to 3 attempts. A naive stack retries at
// every tier: 3·3·3 = 27 calls reach C per request. With callguard only
// the tier next to the fault (B) retries, within its budget and breaker,
// and every tier above gets "overloaded: don't retry".
func TestNoRetryStorm(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	overloaded := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "overloaded", http.StatusServiceUnavailable) // no pushback: a server without callguard
	})
	tests := []struct {
		name      string
		naive     bool
		shed      bool // C sheds with a loadshed.Limiter (503, Callguard-Pushback -1)
		noBreaker bool
		n         int
		bound     float64 // calls to C per request after warm-up; 0: only logged
		// budget configures every tier's retry budget. The default budget's
		// minimum rate (10 retries a second) makes the count depend on how
		// fast the machine runs the test; without it, retries are at most
		// DefaultRatio·n + the budget's capacity, a count.
		budget []retry.BudgetOption
	}{
		{name: "naive", naive: true, n: 30},
		{name: "callguard, C answers 503", n: 200, bound: 1.1},
		{name: "callguard, C sheds", shed: true, n: 200, bound: 1.1},
		{name: "callguard without breakers, C sheds", shed: true, noBreaker: true, n: 200, bound: 1.1},
		{name: "callguard without breakers, C answers 503", noBreaker: true, n: 200, budget: countedBudget},
	}
	const warm = 20 // the naive stack has no warm-up: it needs only a few requests
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var s stack
			var c http.Handler = overloaded
			if tt.shed {
				c = httpx.Handler(http.HandlerFunc(okHandler), fullLimiter(t, 4, loadshed.Critical))
			}
			urlC := serve(t, counted(&s.c, c))
			if tt.naive {
				urlA := naiveTier(t, naiveTier(t, urlC, &s.b), &s.a)
				edge := newClient(t, nil)
				s.edge = func(ctx context.Context) int { return naiveGet(ctx, edge, urlA) }
			} else {
				urlA := callguardTier(t, "a", callguardTier(t, "b", urlC, &s.b, tt.noBreaker, tt.budget...), &s.a, tt.noBreaker, tt.budget...)
				edge := newClient(t, retry.New(retry.WithMaxAttempts(3), retry.WithBackoff(backoff, 10*backoff)))
				s.edge = func(ctx context.Context) int {
					req, _ := http.NewRequestWithContext(ctx, http.MethodGet, urlA, nil)
					resp, err := edge.Do(req)
					if err != nil {
						return 0
					}
					resp.Body.Close()
					return resp.StatusCode
				}
			}
			var warmC int64
			for i := range tt.n {
				if i == warm {
					warmC = s.c.Load()
				}
				if code := s.edge(ctx); code != http.StatusServiceUnavailable {
					t.Fatalf("request %d: status %d, want 503", i, code)
				}
			}
			n := float64(tt.n)
			after := float64(s.c.Load()-warmC) / float64(tt.n-warm)
			t.Logf("%d requests: per request, %.2f reach A, %.2f reach B, %.2f reach C (%.2f after the first %d)",
				tt.n, float64(s.a.Load())/n, float64(s.b.Load())/n, float64(s.c.Load())/n, after, warm)
			if tt.bound > 0 && after > tt.bound {
				t.Errorf("calls reaching C per request after warm-up = %.2f, want <= %.2f", after, tt.bound)
			}
			checkStorm(t, tt.naive, tt.n, s.a.Load(), s.c.Load())
			if tt.budget != nil {
				checkBudget(t, tt.n, s.c.Load())
			}
		})
	}
}

// checkStorm checks what a run of n edge requests did at A and C: a naive
// stack sends each 3·3·3 = 27 times to C; with callguard, A answers "don't
// retry", so the edge client sends each to A once, whatever C does.
func checkStorm(t *testing.T, naive bool, n int, a, c int64) {
	t.Helper()
	switch {
	case naive && c != 27*int64(n):
		t.Errorf("naive stack: %d calls reached C for %d requests, want 27 each", c, n)
	case !naive && a != int64(n):
		t.Errorf("%d requests reached A for %d edge requests, want one each: A's 503 says don't retry", a, n)
	}
}
