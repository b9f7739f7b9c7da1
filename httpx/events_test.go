package httpx_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/httpx"
	"github.com/callguard/callguard/loadshed"
	"github.com/callguard/callguard/retry"
	"github.com/callguard/callguard/timeout"
	"github.com/callguard/callguard/ttl"
)

// TestOnReject checks that a real server reports each answer it gives in
// its handler's place, with the request's id, and nothing else.
func TestOnReject(t *testing.T) {
	fail := func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "no", http.StatusInternalServerError) }
	tests := []struct {
		name    string
		policy  func(t *testing.T) callguard.Policy
		opts    []httpx.HandlerOption
		handler http.HandlerFunc
		header  []string
		want    error // nil: no report
	}{
		{"loop", func(*testing.T) callguard.Policy { return ttl.New(ttl.WithService("a")) },
			nil, okHandler, []string{ttl.PathHeader, "a,b"}, ttl.ErrLoop},
		{"too late", func(*testing.T) callguard.Policy { return ttl.New() },
			[]httpx.HandlerOption{httpx.WithMinServiceTime(time.Second)}, okHandler,
			[]string{timeout.Header, timeout.FormatWire(10 * time.Millisecond)}, loadshed.ErrDeadline},
		{"shed", func(t *testing.T) callguard.Policy { return fullLimiter(t, 4, loadshed.Critical) },
			nil, okHandler, nil, loadshed.ErrShed},
		{"timeout, nothing written", func(*testing.T) callguard.Policy { return timeout.New(20 * time.Millisecond) },
			nil, func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() }, nil, timeout.ErrTimeout},
		{"handler's own 500", func(*testing.T) callguard.Policy { return ttl.New() }, nil, fail, nil, nil},
		{"served", func(*testing.T) callguard.Policy { return ttl.New() }, nil, okHandler, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var (
				mu       sync.Mutex
				reports  int
				gotErr   error
				gotID    string
				gotPath  string
				gotFound bool
			)
			opts := append([]httpx.HandlerOption{httpx.OnReject(func(r *http.Request, err error) {
				mu.Lock()
				defer mu.Unlock()
				reports++
				gotErr, gotID, gotPath = err, callguard.RequestIDFromContext(r.Context()), r.URL.Path
				var rid *callguard.RequestIDError
				gotFound = errors.As(err, &rid) && rid.ID == "req-7"
			})}, tt.opts...)
			url := serve(t, httpx.Handler(tt.handler, tt.policy(t), opts...))
			get(t, context.Background(), newClient(t, nil), url+"/orders", append([]string{"X-Request-Id", "req-7"}, tt.header...)...)

			mu.Lock()
			defer mu.Unlock()
			switch {
			case tt.want == nil && reports != 0:
				t.Errorf("OnReject called %d times (%v), want 0", reports, gotErr)
			case tt.want == nil:
			case reports != 1 || !errors.Is(gotErr, tt.want):
				t.Errorf("OnReject called %d times with %v, want once with %v", reports, gotErr, tt.want)
			case gotID != "req-7" || !gotFound || !strings.Contains(gotErr.Error(), "req-7") || gotPath != "/orders":
				t.Errorf("OnReject saw id %q, path %q, error %q; want req-7 in the context and the error, /orders", gotID, gotPath, gotErr)
			}
		})
	}
}

// TestEventsCarryRequestID follows one request id from a client through
// two real services into the events of each tier's policies: the client's
// retries (retry.OnRetry) and the back service's shedding
// (loadshed.OnShed) see the same id.
func TestEventsCarryRequestID(t *testing.T) {
	var (
		mu     sync.Mutex
		events []string
	)
	event := func(ctx context.Context, what string) {
		mu.Lock()
		defer mu.Unlock()
		events = append(events, what+":"+callguard.RequestIDFromContext(ctx))
	}
	shed := loadshed.New(loadshed.WithFixedLimit(1), loadshed.WithPushback(time.Millisecond), loadshed.OnShed(func(ctx context.Context, _ loadshed.Priority) { event(ctx, "shed") }))
	tok, err := shed.Acquire(context.Background()) // the back service is full
	if err != nil {
		t.Fatal(err)
	}
	defer tok.Release(loadshed.Ignored)
	back := serve(t, httpx.Handler(http.HandlerFunc(okHandler), shed))

	onRetry := retry.OnRetry(func(ctx context.Context, _ int, _ error, _ time.Duration) { event(ctx, "retry") })
	// Back sheds with a pushback of 1 ms: front's client tries 3 times,
	// then front answers 503 "don't retry", which the edge client, with no
	// policy, does not retry anyway.
	toBack := newClient(t, retry.New(retry.WithBackoff(0, 0), onRetry))
	front := serve(t, httpx.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, back, nil)
		resp, err := toBack.Do(req)
		if err == nil {
			resp.Body.Close()
			err = httpx.ResponseError(resp)
		}
		httpx.Error(w, err)
	}), ttl.New(ttl.WithService("front")), httpx.WithRequestIDs()))

	code, h := get(t, context.Background(), newClient(t, nil), front)
	id := h.Get("X-Request-Id")
	mu.Lock()
	defer mu.Unlock()
	if code != http.StatusServiceUnavailable || id == "" {
		t.Fatalf("GET front = %d, X-Request-Id %q; want 503 and an id", code, id)
	}
	if want := strings.ReplaceAll("shed:ID retry:ID shed:ID retry:ID shed:ID", "ID", id); strings.Join(events, " ") != want {
		t.Errorf("events %q, want %q", events, want)
	}
}
