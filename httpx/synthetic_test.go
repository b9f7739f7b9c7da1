package httpx_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/httpx"
)

// A syntheticSeen records whether a handler's context was synthetic, and
// the Callguard-Synthetic header it got.
type syntheticSeen struct {
	mu        sync.Mutex
	synthetic bool
	header    string
	ran       bool
}

func (s *syntheticSeen) record(r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.synthetic, s.header, s.ran = callguard.IsSynthetic(r.Context()), r.Header.Get("Callguard-Synthetic"), true
}

func (s *syntheticSeen) get() (synthetic bool, header string, ran bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.synthetic, s.header, s.ran
}

// TestSyntheticEdge: a client's Callguard-Synthetic reaches the handler's
// context at a server that trusts its callers; an Edge server ignores it
// and removes the header, so that a handler that copies its headers onto
// a call to an inner service passes nothing on, through NewTransport or a
// plain client.
func TestSyntheticEdge(t *testing.T) {
	var inner syntheticSeen
	innerSrv := httptest.NewServer(httpx.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inner.record(r)
	}), nil))
	t.Cleanup(innerSrv.Close)

	for _, tt := range []struct {
		name   string
		opts   []httpx.HandlerOption
		client *http.Client // the front server's client to the inner one
		want   bool
	}{
		{"edge, NewTransport", []httpx.HandlerOption{httpx.Edge()}, &http.Client{Transport: httpx.NewTransport(innerSrv.Client().Transport, nil)}, false},
		{"edge, plain client", []httpx.HandlerOption{httpx.Edge()}, innerSrv.Client(), false},
		{"trusted, NewTransport", nil, &http.Client{Transport: httpx.NewTransport(innerSrv.Client().Transport, nil)}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var front syntheticSeen
			frontSrv := httptest.NewServer(httpx.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				front.record(r)
				out, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, innerSrv.URL, nil)
				out.Header = r.Header.Clone()
				resp, err := tt.client.Do(out)
				if err != nil {
					httpx.Error(w, err)
					return
				}
				resp.Body.Close()
			}), nil, tt.opts...))
			t.Cleanup(frontSrv.Close)

			req, _ := http.NewRequest(http.MethodGet, frontSrv.URL, nil)
			req.Header.Set("Callguard-Synthetic", "1") // a plain client's claim
			resp, err := frontSrv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status = %d, want 200", resp.StatusCode)
			}
			if got, _, _ := front.get(); got != tt.want {
				t.Errorf("front handler IsSynthetic = %v, want %v", got, tt.want)
			}
			got, header, ran := inner.get()
			if !ran || got != tt.want || (header == "1") != tt.want {
				t.Errorf("inner handler IsSynthetic, header = %v, %q (ran %v), want %v and the header only if so", got, header, ran, tt.want)
			}
		})
	}
}

// TestSyntheticOwnedByTransport: NewTransport sends Callguard-Synthetic
// from the attempt's context alone. A request that is not synthetic goes
// out without the header even when the caller copied one onto it; a
// synthetic one goes out with it.
func TestSyntheticOwnedByTransport(t *testing.T) {
	var inner syntheticSeen
	srv := httptest.NewServer(httpx.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inner.record(r)
	}), nil))
	t.Cleanup(srv.Close)
	client := &http.Client{Transport: httpx.NewTransport(srv.Client().Transport, nil)}
	for _, tt := range []struct {
		name   string
		ctx    context.Context
		header string
		want   bool
	}{
		{"stale header", context.Background(), "1", false},
		{"synthetic context", callguard.ContextWithSynthetic(context.Background()), "", true},
		{"synthetic context, odd header", callguard.ContextWithSynthetic(context.Background()), "yes", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(tt.ctx, http.MethodGet, srv.URL, nil)
			if tt.header != "" {
				req.Header.Set("Callguard-Synthetic", tt.header)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			got, header, _ := inner.get()
			if got != tt.want || (header == "1") != tt.want || (!tt.want && header != "") {
				t.Errorf("server IsSynthetic, header = %v, %q, want %v", got, header, tt.want)
			}
			if v := req.Header.Get("Callguard-Synthetic"); v != tt.header {
				t.Errorf("caller's request header changed to %q, want %q", v, tt.header)
			}
		})
	}
}

// TestSyntheticWithSynthetic: an Edge server marks the requests that its
// WithSynthetic function recognises, here by a token of its own, and its
// handler's outgoing calls carry the mark; a client's bare
// Callguard-Synthetic still counts for nothing.
func TestSyntheticWithSynthetic(t *testing.T) {
	var inner syntheticSeen
	innerSrv := httptest.NewServer(httpx.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inner.record(r)
	}), nil))
	t.Cleanup(innerSrv.Close)
	client := &http.Client{Transport: httpx.NewTransport(innerSrv.Client().Transport, nil)}
	var front syntheticSeen
	frontSrv := httptest.NewServer(httpx.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		front.record(r)
		out, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, innerSrv.URL, nil)
		resp, err := client.Do(out)
		if err != nil {
			httpx.Error(w, err)
			return
		}
		resp.Body.Close()
	}), nil, httpx.Edge(), httpx.WithSynthetic(func(r *http.Request) bool {
		return r.Header.Get("X-Prober-Token") == "s3cret"
	})))
	t.Cleanup(frontSrv.Close)

	for _, tt := range []struct {
		name   string
		header [2]string
		want   bool
	}{
		{"token", [2]string{"X-Prober-Token", "s3cret"}, true},
		{"wrong token", [2]string{"X-Prober-Token", "guess"}, false},
		{"bare claim", [2]string{"Callguard-Synthetic", "1"}, false},
	} {
		req, _ := http.NewRequest(http.MethodGet, frontSrv.URL, nil)
		req.Header.Set(tt.header[0], tt.header[1])
		resp, err := frontSrv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		f, _, _ := front.get()
		i, h, _ := inner.get()
		if f != tt.want || i != tt.want || (h == "1") != tt.want {
			t.Errorf("%s: front IsSynthetic %v, inner %v with header %q, want %v", tt.name, f, i, h, tt.want)
		}
	}
}
