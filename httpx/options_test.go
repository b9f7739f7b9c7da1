package httpx_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/httpx"
	"github.com/callguard/callguard/loadshed"
	"github.com/callguard/callguard/ttl"
)

// TestOptionSides checks which side each option belongs to: an option of
// one side must not be accepted by the other (a compile error, checked
// here through the interfaces).
func TestOptionSides(t *testing.T) {
	tests := []struct {
		name          string
		give          any
		wantTransport bool
		wantHandler   bool
	}{
		{"WithClassifier", httpx.WithClassifier(nil), true, false},
		{"WithMaxPushback", httpx.WithMaxPushback(0), true, false},
		{"WithPropagation", httpx.WithPropagation(false), true, false},
		{"WithDeadlineMargin", httpx.WithDeadlineMargin(0), false, true},
		{"WithMaxDeadline", httpx.WithMaxDeadline(0), false, true},
		{"WithMinServiceTime", httpx.WithMinServiceTime(0), false, true},
		{"WithRequestIDs", httpx.WithRequestIDs(), false, true},
		{"Edge", httpx.Edge(), false, true},
		{"WithExempt", httpx.WithExempt(nil), false, true},
		{"WithPriority", httpx.WithPriority(nil), false, true},
		{"OnReject", httpx.OnReject(nil), false, true},
	}
	for _, tt := range tests {
		_, gotTransport := tt.give.(httpx.TransportOption)
		_, gotHandler := tt.give.(httpx.HandlerOption)
		if gotTransport != tt.wantTransport || gotHandler != tt.wantHandler {
			t.Errorf("%s() is a TransportOption: %v, a HandlerOption: %v; want %v, %v",
				tt.name, gotTransport, gotHandler, tt.wantTransport, tt.wantHandler)
		}
	}
}

// TestNilPolicy checks that a nil policy means no policy on both sides,
// with propagation still on: NewTransport(nil, nil) sends the context's
// hops, deadline, priority and request id, once, and Handler(h, nil) puts
// them in the handler's context.
func TestNilPolicy(t *testing.T) {
	type seen struct {
		hops     int
		left     time.Duration
		priority loadshed.Priority
		id       string
	}
	got := make(chan seen, 4)
	ts := httptest.NewServer(httpx.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		var s seen
		s.hops, _ = ttl.FromContext(ctx)
		if dl, ok := ctx.Deadline(); ok {
			s.left = time.Until(dl)
		}
		s.priority, s.id = loadshed.FromContext(ctx), callguard.RequestIDFromContext(ctx)
		got <- s
		w.WriteHeader(http.StatusServiceUnavailable) // no policy: not retried
	}), nil))
	defer ts.Close()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ctx = callguard.ContextWithRequestID(loadshed.NewContext(ttl.NewContext(ctx, 5), loadshed.Critical), "r-1")
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL, nil)
	resp, err := (&http.Client{Transport: httpx.NewTransport(nil, nil)}).Do(req)
	if err != nil {
		t.Fatalf("Do() error = %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("Do() status = %d, want 503", resp.StatusCode)
	}
	if n := len(got); n != 1 {
		t.Fatalf("handler ran %d times, want 1", n)
	}
	s := <-got
	if s.hops != 4 || s.priority != loadshed.Critical || s.id != "r-1" || s.left <= 0 || s.left > time.Minute-httpx.DefaultDeadlineMargin {
		t.Errorf("handler saw hops %d, priority %v, id %q, deadline in %v; want 4, critical, r-1, at most %v",
			s.hops, s.priority, s.id, s.left, time.Minute-httpx.DefaultDeadlineMargin)
	}
}
