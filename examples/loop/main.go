// Command loop shows what a call loop costs, with and without callguard.
//
// Three services on 127.0.0.1, a, b and c, are wired into a cycle by
// mistake: a calls b, b calls c, c calls a. Each does 5 ms of work, then
// calls the next with its request's context. A client calls a once.
//
// Without callguard the request goes round and round, a level of nesting
// per hop, every level holding a goroutine and a connection in each
// service, until the client's 2 s timeout (or, failing that, each
// service's own 3 s limit) ends it. With callguard — httpx.Handler with a
// ttl policy on each server, httpx.NewTransport with retry on each client
// — a refuses the request when it comes back, before its handler runs
// again; the refusal is not retried, and the client learns the whole loop.
//
//	go run ./examples/loop
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/httpx"
	"github.com/callguard/callguard/retry"
	"github.com/callguard/callguard/ttl"
)

const (
	work          = 5 * time.Millisecond // each service's work per request
	clientTimeout = 2 * time.Second      // the first caller's patience
	serverLimit   = 3 * time.Second      // each service's own limit per request
)

// A service is one of the three, on a real loopback server.
type service struct {
	name   string
	ts     *httptest.Server
	next   *service
	client *http.Client
	calls  atomic.Int64 // requests that reached the server
	runs   atomic.Int64 // handler runs
}

// A system is a cycle of three services and what it costs.
type system struct {
	services []*service
	tr       *http.Transport
	active   atomic.Int64 // handlers running now
	peak     atomic.Int64 // most handlers running at once

	mu   sync.Mutex
	logs []string // what the services logged of their refusals
}

// log records a line of a service's log.
func (sys *system) log(format string, args ...any) {
	sys.mu.Lock()
	defer sys.mu.Unlock()
	sys.logs = append(sys.logs, fmt.Sprintf(format, args...))
}

func main() {
	fmt.Printf("a → b → c → a, wired into a cycle by mistake; each service works %v, then calls the next.\n\n", work)
	run("without callguard", false)
	run("with callguard", true)
}

// run builds the cycle, calls a once, and prints what happened.
func run(title string, guarded bool) {
	sys := newSystem(guarded)
	client := &http.Client{Timeout: clientTimeout, Transport: sys.tr}
	if guarded {
		client.Transport = httpx.NewTransport(sys.tr, retry.New())
	}
	start := time.Now()
	resp, err := client.Get(sys.services[0].ts.URL)
	took := time.Since(start)
	if err == nil {
		resp.Body.Close()
		err = httpx.ResponseError(resp)
	}
	sys.close() // waits for the loop to unwind

	var all, started int64
	fmt.Printf("%s: failed after %v\n", title, took.Round(time.Millisecond))
	fmt.Printf("  error: %v\n", describe(err))
	fmt.Print("  requests per service:")
	for _, s := range sys.services {
		fmt.Printf(" %s=%d", s.name, s.calls.Load())
		all, started = all+s.calls.Load(), started+s.runs.Load()
	}
	fmt.Printf(" (%d in all, %d handlers started, at most %d running at once)\n", all, started, sys.peak.Load())
	sys.mu.Lock()
	for _, line := range sys.logs {
		fmt.Printf("  log: %s\n", line)
	}
	sys.mu.Unlock()
	fmt.Println()
}

// describe returns the part of err worth printing.
func describe(err error) string {
	var le *ttl.LoopError
	var ue *url.Error
	switch {
	case err == nil:
		return "none"
	case errors.As(err, &le):
		return le.Error()
	case errors.As(err, &ue):
		return ue.Err.Error()
	}
	return err.Error()
}

func newSystem(guarded bool) *system {
	sys := &system{tr: &http.Transport{MaxIdleConnsPerHost: 8}}
	for _, name := range []string{"a", "b", "c"} {
		s := &service{name: name}
		var h http.Handler = http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { sys.serve(s, rw, r) })
		if guarded {
			// Each service logs what it refuses, with the request id that
			// the first hop created and every hop passed on.
			h = httpx.Handler(h, callguard.Chain(ttl.New(ttl.WithService(name))), httpx.WithRequestIDs(),
				httpx.OnReject(func(r *http.Request, err error) {
					sys.log("%s refused %s %s: %v", name, r.Method, r.URL.Path, err)
				}))
		}
		s.ts = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			s.calls.Add(1)
			h.ServeHTTP(rw, r)
		}))
		sys.services = append(sys.services, s)
	}
	for i, s := range sys.services {
		s.next = sys.services[(i+1)%len(sys.services)]
		s.client = &http.Client{Transport: sys.tr}
		if guarded {
			s.client.Transport = httpx.NewTransport(sys.tr, retry.New())
		}
	}
	return sys
}

// serve is every service's handler: work, then call the next service.
func (sys *system) serve(s *service, rw http.ResponseWriter, r *http.Request) {
	s.runs.Add(1)
	n := sys.active.Add(1)
	defer sys.active.Add(-1)
	for p := sys.peak.Load(); n > p && !sys.peak.CompareAndSwap(p, n); p = sys.peak.Load() {
	}
	ctx, cancel := context.WithTimeout(r.Context(), serverLimit)
	defer cancel()
	if err := sleep(ctx, work); err != nil {
		httpx.Error(rw, err)
		return
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.next.ts.URL, nil)
	resp, err := s.client.Do(req)
	if err == nil {
		defer resp.Body.Close()
		err = httpx.ResponseError(resp)
	}
	if err != nil {
		httpx.Error(rw, err) // a loop found further on goes back up, path and all
		return
	}
	io.Copy(rw, resp.Body)
}

// close shuts the servers down once every request has finished.
func (sys *system) close() {
	for _, s := range sys.services {
		s.ts.Close() // waits for the requests on it
	}
	sys.tr.CloseIdleConnections()
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
