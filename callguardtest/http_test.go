package callguardtest_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/callguard/callguard/callguardtest"
	"github.com/callguard/callguard/httpx"
	"github.com/callguard/callguard/retry"
	"github.com/callguard/callguard/stack"
)

func TestHTTPServerFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		give         callguardtest.Fault
		giveOpts     []callguardtest.ServerOption
		wantStatus   int
		wantPushback string
	}{
		{callguardtest.Serve, nil, http.StatusOK, ""},
		{callguardtest.Fail, nil, http.StatusInternalServerError, ""},
		{callguardtest.Unavailable, nil, http.StatusServiceUnavailable, ""},
		{callguardtest.Shed, nil, http.StatusServiceUnavailable, "-1"},
		{callguardtest.Shed, []callguardtest.ServerOption{callguardtest.WithPushback(1500 * time.Millisecond)}, http.StatusServiceUnavailable, "1500"},
	}
	for _, tt := range tests {
		t.Run(tt.give.String(), func(t *testing.T) {
			s := callguardtest.NewHTTPServer(t, nil, callguardtest.Always(tt.give), tt.giveOpts...)
			resp, err := s.Client().Get(s.URL)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus || resp.Header.Get("Callguard-Pushback") != tt.wantPushback {
				t.Errorf("Get = %d, pushback %q, want %d, %q", resp.StatusCode, resp.Header.Get("Callguard-Pushback"), tt.wantStatus, tt.wantPushback)
			}
			wantServed := 0
			if tt.give == callguardtest.Serve {
				wantServed = 1
			}
			if s.Requests() != 1 || s.Served() != wantServed {
				t.Errorf("Requests, Served = %d, %d, want 1, %d", s.Requests(), s.Served(), wantServed)
			}
		})
	}
}

func TestHTTPServerReset(t *testing.T) {
	t.Parallel()
	s := callguardtest.NewHTTPServer(t, nil, callguardtest.First(1, callguardtest.Reset))
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	if resp, err := c.Get(s.URL); err == nil {
		resp.Body.Close()
		t.Fatalf("Get = %d, want a connection error", resp.StatusCode)
	}
	resp, err := c.Get(s.URL)
	if err != nil {
		t.Fatalf("second Get: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("second Get = %d, want 200", resp.StatusCode)
	}
}

// TestHTTPServerHang: a hung request is held until the caller gives up.
func TestHTTPServerHang(t *testing.T) {
	t.Parallel()
	s := callguardtest.NewHTTPServer(t, nil, callguardtest.Always(callguardtest.Hang))
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL, nil)
		resp, err := s.Client().Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	for s.Requests() == 0 { // the request has reached the server
		runtime.Gosched()
	}
	select {
	case err := <-errc:
		t.Fatalf("Get returned %v while the server hangs", err)
	default:
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("Get = %v, want context.Canceled", err)
	}
}

// TestHTTPServerWithStack: the client stack retries a server that fails
// twice, and the third attempt succeeds.
func TestHTTPServerWithStack(t *testing.T) {
	t.Parallel()
	s := callguardtest.NewHTTPServer(t, nil, callguardtest.First(2, callguardtest.Unavailable))
	out := stack.Client(stack.WithRetry(retry.WithBackoff(0, 0)))
	c := &http.Client{Transport: httpx.NewTransport(s.Client().Transport, out)}
	resp, err := c.Get(s.URL)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || s.Requests() != 3 {
		t.Errorf("Get = %d after %d requests, want 200 after 3", resp.StatusCode, s.Requests())
	}
}
