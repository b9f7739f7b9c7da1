package callguardtest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callguard/callguard"
)

// An HTTPServer is a real HTTP server on the loopback interface whose
// answers follow a [Script]. Its embedded [httptest.Server] gives its URL
// and a Client. It is safe for concurrent use.
type HTTPServer struct {
	*httptest.Server
	script   Script
	handler  http.Handler
	pushback string
	requests atomic.Int64
	served   atomic.Int64
}

// A ServerOption configures a flaky server: [NewHTTPServer] or package
// grpctest's.
type ServerOption interface{ apply(*ServerOptions) }

// ServerOptions are the resolved settings of a flaky server. Package
// grpctest reads them with [ResolveServerOptions]; other code has no need.
type ServerOptions struct {
	// Pushback is the delay that Shed answers ask for; ≤ 0 means "don't
	// retry".
	Pushback time.Duration
}

type serverOptionFunc func(*ServerOptions)

func (f serverOptionFunc) apply(o *ServerOptions) { f(o) }

// WithPushback sets the delay that Shed answers ask the caller to wait
// before a retry. The default, and zero or less, is "don't retry".
func WithPushback(d time.Duration) ServerOption {
	return serverOptionFunc(func(o *ServerOptions) { o.Pushback = d })
}

// ResolveServerOptions applies opts to the defaults.
func ResolveServerOptions(opts ...ServerOption) ServerOptions {
	var o ServerOptions
	for _, opt := range opts {
		opt.apply(&o)
	}
	return o
}

// NewHTTPServer starts a flaky HTTP server on 127.0.0.1 that answers the
// n-th request it receives as script(n) says, and serves it with h when the
// script says [Serve]. A nil h answers 200 "ok"; a nil script serves every
// request. The server is closed when the test ends (t.Cleanup).
func NewHTTPServer(t testing.TB, h http.Handler, script Script, opts ...ServerOption) *HTTPServer {
	t.Helper()
	if h == nil {
		h = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
	}
	if script == nil {
		script = Always(Serve)
	}
	o := ResolveServerOptions(opts...)
	s := &HTTPServer{script: script, handler: h, pushback: callguard.FormatPushback(o.Pushback)}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// Requests returns the number of requests the server has received.
func (s *HTTPServer) Requests() int { return int(s.requests.Load()) }

// Served returns the number of requests the server has served with its
// handler.
func (s *HTTPServer) Served() int { return int(s.served.Load()) }

func (s *HTTPServer) serve(w http.ResponseWriter, r *http.Request) {
	n := int(s.requests.Add(1))
	switch s.script(n) {
	case Serve:
		s.served.Add(1)
		s.handler.ServeHTTP(w, r)
	case Fail:
		http.Error(w, "callguardtest: injected failure", http.StatusInternalServerError)
	case Unavailable:
		http.Error(w, "callguardtest: injected outage", http.StatusServiceUnavailable)
	case Shed:
		w.Header().Set("Callguard-Pushback", s.pushback)
		http.Error(w, "callguardtest: injected shedding", http.StatusServiceUnavailable)
	case Hang:
		<-r.Context().Done()
		http.Error(w, "callguardtest: hung until the caller left", http.StatusGatewayTimeout)
	case Reset:
		reset(w)
	}
}

// reset closes the request's connection without an answer.
func reset(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil { // HTTP/2: no hijacking; abort the stream instead
		panic(http.ErrAbortHandler)
	}
	conn.Close()
}
