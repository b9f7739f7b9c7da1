package probe_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/callguardtest"
	"github.com/callguard/callguard/httpx"
	"github.com/callguard/callguard/probe"
)

// A seenRequest is what a test server saw of a request.
type seenRequest struct {
	method, body, id, synthetic string
	ctxSynthetic                bool
	ctxID                       string
}

// recorder returns a server that answers code, behind an httpx.Handler
// that trusts its callers, and the function that returns what its last
// request carried.
func recorder(t *testing.T, code int) (*httptest.Server, func() seenRequest) {
	t.Helper()
	var mu sync.Mutex
	var last seenRequest
	srv := httptest.NewServer(httpx.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		last = seenRequest{r.Method, string(b), r.Header.Get("X-Request-Id"), r.Header.Get("Callguard-Synthetic"),
			callguard.IsSynthetic(r.Context()), callguard.RequestIDFromContext(r.Context())}
		mu.Unlock()
		w.WriteHeader(code)
		io.WriteString(w, strings.Repeat("x", 100))
	}), nil))
	t.Cleanup(srv.Close)
	return srv, func() seenRequest {
		mu.Lock()
		defer mu.Unlock()
		return last
	}
}

// TestHTTP: an HTTP step sends the run's request id and synthetic mark
// through a plain client and through httpx.NewTransport alike, and the
// server puts both in its handler's context.
func TestHTTP(t *testing.T) {
	t.Parallel()
	srv, last := recorder(t, http.StatusOK)
	for _, tt := range []struct {
		name   string
		client *http.Client
	}{
		{"plain client", srv.Client()},
		{"httpx transport", &http.Client{Transport: httpx.NewTransport(srv.Client().Transport, nil)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := probe.New("p", []probe.Step{probe.HTTP("order", tt.client, http.MethodPost, srv.URL+"/order", []byte(`{"item":1}`))},
				probe.WithClock(callguardtest.NewClock()))
			r := p.Run(context.Background())
			if !r.OK() {
				t.Fatalf("Run = %v, want ok", r.Err())
			}
			want := seenRequest{http.MethodPost, `{"item":1}`, r.RequestID, "1", true, r.RequestID}
			if got := last(); got != want {
				t.Errorf("server saw %+v, want %+v", got, want)
			}
		})
	}
}

// TestHTTPStatus: a status other than 2xx fails the step with a
// *StatusError.
func TestHTTPStatus(t *testing.T) {
	t.Parallel()
	srv, _ := recorder(t, http.StatusServiceUnavailable)
	p := probe.New("p", []probe.Step{probe.HTTP("browse", srv.Client(), http.MethodGet, srv.URL, nil)},
		probe.WithClock(callguardtest.NewClock()))
	r := p.Run(context.Background())
	var se *probe.StatusError
	if !errors.As(r.Err(), &se) || se.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("Run = %v, want a *StatusError with 503", r.Err())
	}
	if got, want := se.Error(), "probe: GET "+srv.URL+": 503 Service Unavailable"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestHTTPPanics(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ method, url string }{{"GET", "http://[::1"}, {"BAD METHOD", "http://x"}} {
		func() {
			defer func() {
				if v := recover(); v == nil || !strings.HasPrefix(v.(string), "probe: HTTP step s: ") {
					t.Errorf("HTTP(%q, %q) panic = %v, want one that names the step", tt.method, tt.url, v)
				}
			}()
			probe.HTTP("s", nil, tt.method, tt.url, nil)
		}()
	}
}
