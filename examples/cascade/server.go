package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// A server is one HTTP service on 127.0.0.1 that can go down and come back
// on the same address.
type server struct {
	addr   string
	h      http.Handler
	active atomic.Int64 // handlers running

	mu   sync.Mutex
	srv  *http.Server  // nil while down
	done chan struct{} // closed when srv's Serve has returned
}

func startServer(h http.Handler) (*server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &server{addr: ln.Addr().String()}
	s.h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.active.Add(1)
		defer s.active.Add(-1)
		h.ServeHTTP(w, r)
	})
	s.serve(ln)
	return s, nil
}

func (s *server) serve(ln net.Listener) {
	srv := &http.Server{Handler: s.h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ln) //nolint:errcheck // returns when the server closes
	}()
	s.mu.Lock()
	s.srv, s.done = srv, done
	s.mu.Unlock()
}

// down stops the server at once: its listener and connections close, as
// when its process dies.
func (s *server) down() {
	s.mu.Lock()
	srv, done := s.srv, s.done
	s.srv = nil
	s.mu.Unlock()
	if srv != nil {
		srv.Close()
		<-done
	}
}

// up starts the server again on its address.
func (s *server) up() error {
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("payments back on %s: %w", s.addr, err)
	}
	s.serve(ln)
	return nil
}

// close lets the requests in flight end, then stops the server, and waits
// (at most a few seconds) for handlers left by an earlier down.
func (s *server) close() {
	s.mu.Lock()
	srv, done := s.srv, s.done
	s.srv = nil
	s.mu.Unlock()
	if srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		srv.Shutdown(ctx) //nolint:errcheck // Close below ends what is left
		cancel()
		srv.Close()
		<-done
	}
	for deadline := time.Now().Add(5 * time.Second); s.active.Load() > 0 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
}
