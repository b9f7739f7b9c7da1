package httpx_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/breaker"
	"github.com/callguard/callguard/httpx"
	"github.com/callguard/callguard/loadshed"
	"github.com/callguard/callguard/timeout"
)

// shedAll is a server policy that sheds every request, as a limiter over
// its limit does.
var shedAll = callguard.PolicyFunc(func(callguard.Handler) callguard.Handler {
	return func(context.Context, func(context.Context) error) error { return loadshed.ErrShed }
})

// TestRelayedRefusal checks that a server that passes on its own client's
// refusal (an open breaker) says "downstream", that a caller's throttle
// counts that as an accept (the server answered it) and the server's own
// shedding as a refusal, and that an Edge server does not say it.
func TestRelayedRefusal(t *testing.T) {
	relay := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { httpx.Error(w, breaker.ErrOpen) })
	tests := []struct {
		name       string
		handler    http.Handler
		wantReason string
		wantCounts [2]int64 // requests, accepts
	}{
		{"passed on", httpx.Handler(relay, nil), "downstream", [2]int64{1, 1}},
		{"passed on at an edge", httpx.Handler(relay, nil, httpx.Edge()), "", [2]int64{1, 0}},
		{"shed by the server", httpx.Handler(http.NotFoundHandler(), shedAll), "", [2]int64{1, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts := httptest.NewServer(tt.handler)
			t.Cleanup(ts.Close)
			throttle := loadshed.NewThrottle()
			c := &http.Client{Transport: httpx.NewTransport(nil, throttle)}
			t.Cleanup(c.CloseIdleConnections)
			resp, err := c.Get(ts.URL)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Callguard-Error") != tt.wantReason {
				t.Errorf("answer = %d, Callguard-Error %q; want 503, %q", resp.StatusCode, resp.Header.Get("Callguard-Error"), tt.wantReason)
			}
			rerr := httpx.ResponseError(resp)
			if got := errors.Is(rerr, callguard.ErrDownstream); got != (tt.wantReason != "") {
				t.Errorf("errors.Is(%v, ErrDownstream) = %v", rerr, got)
			}
			if !errors.Is(rerr, callguard.ErrOverloaded) {
				t.Errorf("ResponseError = %v, want an overloaded error", rerr)
			}
			if r, a := throttle.Counts(loadshed.Default); [2]int64{r, a} != tt.wantCounts {
				t.Errorf("throttle counts = %d, %d; want %v", r, a, tt.wantCounts)
			}
		})
	}
}

// TestRelayedTimeout checks that a 504 a server passes on from its own
// calls says "downstream" and does not open a caller's breaker, which
// would refuse the server's other routes too, while the server's own 504s
// do.
func TestRelayedTimeout(t *testing.T) {
	tests := []struct {
		name       string
		handler    http.Handler
		wantReason string
		wantState  breaker.State
	}{
		{"passed on", httpx.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			httpx.Error(w, timeout.ErrTimeout) // the server's own call timed out
		}), nil), "downstream", breaker.Closed},
		{"the server's own", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "slow", http.StatusGatewayTimeout)
		}), "", breaker.Open},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts := httptest.NewServer(tt.handler)
			t.Cleanup(ts.Close)
			cb := breaker.New()
			c := &http.Client{Transport: httpx.NewTransport(nil, cb)}
			t.Cleanup(c.CloseIdleConnections)
			for range 10 {
				resp, err := c.Get(ts.URL)
				if err != nil {
					if errors.Is(err, breaker.ErrOpen) {
						continue
					}
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusGatewayTimeout || resp.Header.Get("Callguard-Error") != tt.wantReason {
					t.Errorf("answer = %d, Callguard-Error %q; want 504, %q", resp.StatusCode, resp.Header.Get("Callguard-Error"), tt.wantReason)
				}
			}
			if st := cb.State(); st != tt.wantState {
				t.Errorf("breaker after 10 answers = %v, want %v", st, tt.wantState)
			}
		})
	}
}
