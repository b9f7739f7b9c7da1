package httpx

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/breaker"
	"github.com/callguard/callguard/bulkhead"
	"github.com/callguard/callguard/retry"
	"github.com/callguard/callguard/timeout"
)

var _ http.RoundTripper = (*transport)(nil)

// newServer starts a loopback server running h and closes it at cleanup.
// Closing the server also closes the idle connections of ts.Client()'s
// transport, which the clients of these tests send through.
func newServer(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts
}

// newClient returns a client that sends to ts through NewTransport.
func newClient(ts *httptest.Server, p callguard.Policy, opts ...TransportOption) *http.Client {
	return &http.Client{Transport: NewTransport(ts.Client().Transport, p, opts...)}
}

// fastRetry returns a retry policy that makes n attempts without waiting.
func fastRetry(n int, opts ...retry.Option) *retry.Retry {
	return retry.New(append([]retry.Option{retry.WithMaxAttempts(n), retry.WithBackoff(0, 0)}, opts...)...)
}

// deadAddr returns a loopback address that nothing listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// readBody reads and closes resp's body.
func readBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading body: %v", err)
	}
	return string(b)
}

// A counter counts the requests a test server gets.
type counter struct{ n atomic.Int32 }

func (c *counter) next() int { return int(c.n.Add(1)) }
func (c *counter) get() int  { return int(c.n.Load()) }

func TestTransportReplaysBody(t *testing.T) {
	var (
		mu     sync.Mutex
		bodies []string
	)
	ts := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		n := len(bodies)
		mu.Unlock()
		if n < 3 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok")
	})
	const payload = `{"amount": 42, "currency": "EUR"}`
	resp, err := newClient(ts, fastRetry(3)).Post(ts.URL, "application/json", strings.NewReader(payload))
	if err != nil {
		t.Fatalf("Post() error = %v", err)
	}
	if got := readBody(t, resp); resp.StatusCode != http.StatusOK || got != "ok" {
		t.Errorf("Post() = %d %q, want 200 %q", resp.StatusCode, got, "ok")
	}
	want := []string{payload, payload, payload}
	if !reflect.DeepEqual(bodies, want) {
		t.Errorf("server got bodies %q, want %q", bodies, want)
	}
}

func TestTransportBodyWithoutGetBody(t *testing.T) {
	t.Run("response", func(t *testing.T) {
		var calls counter
		ts := newServer(t, func(w http.ResponseWriter, r *http.Request) {
			calls.next()
			io.Copy(io.Discard, r.Body)
			http.Error(w, "busy", http.StatusServiceUnavailable)
		})
		body := io.NopCloser(strings.NewReader("once")) // no GetBody
		req, _ := http.NewRequest(http.MethodPost, ts.URL, body)
		resp, err := newClient(ts, fastRetry(3)).Do(req)
		if err != nil {
			t.Fatalf("Do() error = %v, want the 503 response", err)
		}
		if got := readBody(t, resp); resp.StatusCode != http.StatusServiceUnavailable || got != "busy\n" {
			t.Errorf("Do() = %d %q, want 503 %q", resp.StatusCode, got, "busy\n")
		}
		if got := calls.get(); got != 1 {
			t.Errorf("server got %d requests, want 1", got)
		}
	})
	t.Run("transport error", func(t *testing.T) {
		tr := &http.Transport{}
		defer tr.CloseIdleConnections()
		c := &http.Client{Transport: NewTransport(tr, fastRetry(3))}
		req, _ := http.NewRequest(http.MethodPost, "http://"+deadAddr(t), io.NopCloser(strings.NewReader("once")))
		_, err := c.Do(req)
		var op *net.OpError
		if !errors.Is(err, ErrBodyNotReplayable) || !errors.As(err, &op) {
			t.Errorf("Do() error = %v, want ErrBodyNotReplayable and the dial error", err)
		}
	})
}

func TestTransportClassification(t *testing.T) {
	tests := []struct {
		name      string
		method    string
		header    string // set on the request, if not ""
		status    int
		wantCalls int
	}{
		{"GET 500", http.MethodGet, "", 500, 3},
		{"PUT 500", http.MethodPut, "", 500, 3},
		{"POST 500", http.MethodPost, "", 500, 1},
		{"POST 500 Idempotency-Key", http.MethodPost, "Idempotency-Key", 500, 3},
		{"POST 500 X-Idempotency-Key", http.MethodPost, "X-Idempotency-Key", 500, 3},
		{"POST 501", http.MethodPost, "", 501, 1},
		{"POST 502", http.MethodPost, "", 502, 3},
		{"POST 503", http.MethodPost, "", 503, 3},
		{"POST 504", http.MethodPost, "", 504, 3},
		{"POST 429", http.MethodPost, "", 429, 1}, // load without a delay: not retried
		{"GET 404", http.MethodGet, "", 404, 1},
		{"GET 400", http.MethodGet, "", 400, 1},
		{"GET 200", http.MethodGet, "", 200, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls counter
			ts := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				calls.next()
				w.WriteHeader(tt.status)
			})
			req, _ := http.NewRequest(tt.method, ts.URL, strings.NewReader("x"))
			if tt.header != "" {
				req.Header.Set(tt.header, "k1")
			}
			resp, err := newClient(ts, fastRetry(3)).Do(req)
			if err != nil {
				t.Fatalf("Do() error = %v, want the response", err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.status || calls.get() != tt.wantCalls {
				t.Errorf("Do() = %d after %d calls, want %d after %d", resp.StatusCode, calls.get(), tt.status, tt.wantCalls)
			}
		})
	}
}

func TestTransportTransportErrors(t *testing.T) {
	// A server that closes every connection without answering: the request
	// was sent, so only an idempotent one is retried.
	var calls counter
	ts := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		calls.next()
		panic(http.ErrAbortHandler)
	})
	for _, tt := range []struct {
		method    string
		wantCalls int
	}{{http.MethodGet, 3}, {http.MethodPost, 1}} {
		calls.n.Store(0)
		req, _ := http.NewRequest(tt.method, ts.URL, nil)
		_, err := newClient(ts, fastRetry(3)).Do(req)
		if err == nil || calls.get() != tt.wantCalls {
			t.Errorf("%s: Do() error = %v after %d calls, want an error after %d", tt.method, err, calls.get(), tt.wantCalls)
		}
	}

	// A dead server: the request never left, so even a POST is retried.
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	var attempts int
	r := fastRetry(3, retry.OnRetry(func(context.Context, int, error, time.Duration) { attempts++ }))
	c := &http.Client{Transport: NewTransport(tr, r)}
	_, err := c.Post("http://"+deadAddr(t), "text/plain", strings.NewReader("x"))
	if !errors.Is(err, retry.ErrExhausted) || attempts != 2 {
		t.Errorf("Post(dead server) error = %v after %d retries, want ErrExhausted after 2", err, attempts)
	}
}

func TestTransportPushback(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		header     []string // name, value, name, value…
		opts       []TransportOption
		wantDelays []time.Duration // nil: not retried
	}{
		{"Callguard-Pushback", 503, []string{"Callguard-Pushback", "30"}, nil, []time.Duration{30 * time.Millisecond}},
		{"Callguard-Pushback before Retry-After", 503, []string{"Callguard-Pushback", "30", "Retry-After", "1"}, nil, []time.Duration{30 * time.Millisecond}},
		{"Retry-After capped by retry", 429, []string{"Retry-After", "1"}, nil, []time.Duration{40 * time.Millisecond}},
		{"Retry-After capped by httpx", 503, []string{"Retry-After", "1"}, []TransportOption{WithMaxPushback(15 * time.Millisecond)}, []time.Duration{15 * time.Millisecond}},
		{"pushback ignored", 503, []string{"Retry-After", "1"}, []TransportOption{WithMaxPushback(0)}, []time.Duration{0}},
		{"Retry-After 0", 503, []string{"Retry-After", "0"}, nil, []time.Duration{0}},
		{"Retry-After malformed", 503, []string{"Retry-After", "soon"}, nil, []time.Duration{0}},
		{"no header", 503, nil, nil, []time.Duration{0}},
		{"Retry-After on 502 ignored", 502, []string{"Retry-After", "1"}, nil, []time.Duration{0}},
		{"don't retry 503", 503, []string{"Callguard-Pushback", "-1"}, nil, nil},
		{"don't retry 429", 429, []string{"Callguard-Pushback", "-1"}, nil, nil},
		{"don't retry malformed", 503, []string{"Callguard-Pushback", "x"}, nil, nil},
		{"don't retry before Retry-After", 503, []string{"Callguard-Pushback", "-1", "Retry-After", "1"}, nil, nil},
		{"don't retry without cap", 503, []string{"Callguard-Pushback", "-1"}, []TransportOption{WithMaxPushback(0)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls counter
			ts := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				if calls.next() == 1 {
					for i := 0; i+1 < len(tt.header); i += 2 {
						w.Header().Set(tt.header[i], tt.header[i+1])
					}
					w.WriteHeader(tt.status)
					return
				}
				io.WriteString(w, "ok")
			})
			var delays []time.Duration
			r := fastRetry(2, retry.WithMaxPushback(40*time.Millisecond), retry.OnRetry(func(_ context.Context, _ int, _ error, d time.Duration) {
				delays = append(delays, d)
			}))
			resp, err := newClient(ts, r, tt.opts...).Get(ts.URL)
			if err != nil {
				t.Fatalf("Get() error = %v", err)
			}
			resp.Body.Close()
			wantStatus := 200
			if tt.wantDelays == nil {
				wantStatus = tt.status
			}
			if !reflect.DeepEqual(delays, tt.wantDelays) || resp.StatusCode != wantStatus {
				t.Errorf("Get() = %d with retry delays %v, want %d with %v", resp.StatusCode, delays, wantStatus, tt.wantDelays)
			}
		})
	}
}

func TestTransportReusesConnections(t *testing.T) {
	t.Run("retry", func(t *testing.T) { testReusesConnections(t, fastRetry(3)) })
	t.Run("retry+timeout", func(t *testing.T) {
		testReusesConnections(t, callguard.Chain(fastRetry(3), timeout.New(10*time.Second)))
	})
}

func testReusesConnections(t *testing.T, p callguard.Policy) {
	var (
		calls    counter
		failures atomic.Int32 // per round: failures before a success
		conns    atomic.Int32
	)
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n := calls.next(); n <= int(failures.Load()) {
			http.Error(w, "busy "+strconv.Itoa(n), http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok")
	}))
	ts.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	ts.Start()
	t.Cleanup(ts.Close)

	c := newClient(ts, p)
	for i := 0; i < 6; i++ {
		// Even rounds use every attempt up on failures: the caller gets the
		// last one, whole. Odd rounds succeed at the third attempt.
		want := "ok"
		failures.Store(2)
		if i%2 == 0 {
			want = "busy 3\n"
			failures.Store(3)
		}
		calls.n.Store(0)
		resp, err := c.Get(ts.URL)
		if err != nil {
			t.Fatalf("Get() error = %v", err)
		}
		if got := readBody(t, resp); got != want {
			t.Errorf("round %d: Get() body = %q, want %q", i, got, want)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("server saw %d new connections for 18 requests, want 1", n)
	}
}

func TestTransportReturnsLargeBodyWhole(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", 1024) // 16 KiB
	var calls counter
	ts := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		calls.next()
		w.WriteHeader(http.StatusBadGateway)
		io.WriteString(w, big)
	})
	resp, err := newClient(ts, fastRetry(3)).Get(ts.URL)
	if err != nil {
		t.Fatalf("Get() error = %v", err)
	}
	if got := readBody(t, resp); resp.StatusCode != http.StatusBadGateway || got != big || calls.get() != 3 {
		t.Errorf("Get() = %d with %d bytes after %d calls, want 502 with %d after 3", resp.StatusCode, len(got), calls.get(), len(big))
	}
}

func TestTransportBreakerDeadServer(t *testing.T) {
	addr := deadAddr(t)
	cb := breaker.New(breaker.WithConsecutiveFailures(2), breaker.WithOpenTimeout(20*time.Millisecond))
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: NewTransport(tr, cb)}
	url := "http://" + addr + "/"

	for i := 0; i < 2; i++ {
		var op *net.OpError
		if _, err := c.Get(url); !errors.As(err, &op) {
			t.Fatalf("Get(dead server) error = %v, want a dial error", err)
		}
	}
	if _, err := c.Get(url); !errors.Is(err, breaker.ErrOpen) {
		t.Fatalf("Get() after 2 failures error = %v, want breaker.ErrOpen", err)
	}

	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s again: %v", addr, err)
	}
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "healed")
	}))
	ts.Listener.Close()
	ts.Listener = l
	ts.Start()
	defer ts.Close()

	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := c.Get(url)
		if err == nil {
			if got := readBody(t, resp); got != "healed" {
				t.Errorf("Get() body = %q, want %q", got, "healed")
			}
			break
		}
		if !errors.Is(err, breaker.ErrOpen) || time.Now().After(deadline) {
			t.Fatalf("Get() after healing error = %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if s := cb.State(); s != breaker.Closed {
		t.Errorf("State() = %v after a successful probe, want closed", s)
	}
}

func TestTransportBulkhead(t *testing.T) {
	var inflight, most atomic.Int32
	arrived := make(chan struct{}, 8)
	release := make(chan struct{})
	ts := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		n := inflight.Add(1)
		defer inflight.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		arrived <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	c := newClient(ts, bulkhead.New(2))

	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := c.Get(ts.URL)
			if err != nil {
				t.Errorf("Get() error = %v", err)
				return
			}
			resp.Body.Close()
		}()
	}
	<-arrived
	<-arrived
	_, err := c.Get(ts.URL)
	if !errors.Is(err, bulkhead.ErrFull) || !errors.Is(err, callguard.ErrOverloaded) {
		t.Errorf("third Get() error = %v, want bulkhead.ErrFull", err)
	}
	close(release)
	wg.Wait()
	if m := most.Load(); m != 2 {
		t.Errorf("server saw at most %d requests at once, want 2", m)
	}
}

func TestTransportBulkheadHammer(t *testing.T) {
	var inflight, most atomic.Int32
	ts := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		n := inflight.Add(1)
		defer inflight.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		time.Sleep(time.Millisecond)
	})
	c := newClient(ts, bulkhead.New(3, bulkhead.WithMaxWait(10*time.Second)))
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 5; j++ {
				resp, err := c.Get(ts.URL)
				if err != nil {
					t.Errorf("Get() error = %v", err)
					return
				}
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	if m := most.Load(); m > 3 {
		t.Errorf("server saw %d requests at once, want at most 3", m)
	}
}

// hangingServer returns a server whose handler waits until its request is
// cancelled, or the test ends, and counts its requests.
func hangingServer(t *testing.T, calls *counter) *httptest.Server {
	stop := make(chan struct{})
	ts := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		calls.next()
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	})
	t.Cleanup(func() { close(stop) }) // runs before ts.Close
	return ts
}

func TestTransportTimeout(t *testing.T) {
	tests := []struct {
		name      string
		method    string
		abandon   bool
		wantCalls int
	}{
		{"GET retried", http.MethodGet, false, 2},
		{"POST not retried", http.MethodPost, false, 1},
		{"GET abandoned attempts", http.MethodGet, true, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls counter
			ts := hangingServer(t, &calls)
			var opts []timeout.Option
			if tt.abandon {
				opts = append(opts, timeout.WithAbandon())
			}
			p := callguard.Chain(fastRetry(2), timeout.New(20*time.Millisecond, opts...))
			req, _ := http.NewRequest(tt.method, ts.URL, strings.NewReader("x"))
			_, err := newClient(ts, p).Do(req)
			if !errors.Is(err, timeout.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Do() error = %v, want timeout.ErrTimeout", err)
			}
			// Abandoned attempts may not have reached the server yet: at most
			// wantCalls, never more.
			if got := calls.get(); got != tt.wantCalls && (!tt.abandon || got > tt.wantCalls) {
				t.Errorf("server got %d requests, want %d", got, tt.wantCalls)
			}
		})
	}
}

func TestTransportBodyOutlivesAttemptTimeout(t *testing.T) {
	proceed := make(chan struct{})
	ts := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		http.NewResponseController(w).Flush()
		select {
		case <-proceed:
			io.WriteString(w, "late body")
		case <-r.Context().Done():
		}
	})
	t.Cleanup(func() { close(proceed) })
	c := newClient(ts, callguard.Chain(fastRetry(2), timeout.New(10*time.Second)))

	t.Run("read after the attempt", func(t *testing.T) {
		resp, err := c.Get(ts.URL)
		if err != nil {
			t.Fatalf("Get() error = %v", err)
		}
		// The timeout policy cancelled the attempt's context when the
		// attempt returned; the body must not depend on it.
		proceed <- struct{}{}
		if got := readBody(t, resp); got != "late body" {
			t.Errorf("body = %q, want %q", got, "late body")
		}
	})
	t.Run("caller cancels", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL, nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("Do() error = %v", err)
		}
		defer resp.Body.Close()
		cancel()
		if _, err := io.ReadAll(resp.Body); !errors.Is(err, context.Canceled) {
			t.Errorf("reading body after cancel: error = %v, want context.Canceled", err)
		}
	})
}

func TestTransportDoesNotMutateRequest(t *testing.T) {
	var calls counter
	ts := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if calls.next()%3 != 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	policies := map[string]callguard.Policy{
		"retry":         fastRetry(3),
		"retry+timeout": callguard.Chain(fastRetry(3), timeout.New(10*time.Second)),
	}
	for name, p := range policies {
		t.Run(name, func(t *testing.T) {
			ctx := context.WithValue(context.Background(), ctxKey{}, "v")
			req, _ := http.NewRequestWithContext(ctx, http.MethodPut, ts.URL+"/a?b=c", strings.NewReader("payload"))
			req.Header.Set("X-Test", "1")
			var (
				header  = req.Header.Clone()
				url     = req.URL.String()
				body    = req.Body
				getBody = reflect.ValueOf(req.GetBody).Pointer()
				length  = req.ContentLength
			)
			resp, err := newClient(ts, p).Do(req)
			if err != nil {
				t.Fatalf("Do() error = %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("Do() status = %d, want 200", resp.StatusCode)
			}
			if !reflect.DeepEqual(req.Header, header) || req.URL.String() != url || req.Body != body ||
				reflect.ValueOf(req.GetBody).Pointer() != getBody || req.ContentLength != length ||
				req.Context() != ctx || req.Method != http.MethodPut {
				t.Errorf("request changed: %+v", req)
			}
		})
	}
}

type ctxKey struct{}

// A closeBody records whether it was closed.
type closeBody struct {
	io.Reader
	closed atomic.Bool
}

func (b *closeBody) Close() error { b.closed.Store(true); return nil }

func TestTransportRefusalClosesBody(t *testing.T) {
	refuse := callguard.PolicyFunc(func(callguard.Handler) callguard.Handler {
		return func(context.Context, func(context.Context) error) error { return bulkhead.ErrFull }
	})
	ts := newServer(t, func(http.ResponseWriter, *http.Request) { t.Error("request reached the server") })
	body := &closeBody{Reader: strings.NewReader("x")}
	req, _ := http.NewRequest(http.MethodPost, ts.URL, body)
	_, err := newClient(ts, refuse).Do(req)
	if !errors.Is(err, bulkhead.ErrFull) {
		t.Errorf("Do() error = %v, want bulkhead.ErrFull", err)
	}
	if !body.closed.Load() {
		t.Error("request body not closed")
	}
}

func TestTransportResponseThenRefusal(t *testing.T) {
	// The first attempt gets a 503; the breaker then opens and refuses the
	// second. The caller gets the 503, not ErrOpen.
	ts := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	})
	p := callguard.Chain(fastRetry(3), breaker.New(breaker.WithConsecutiveFailures(1)))
	resp, err := newClient(ts, p).Get(ts.URL)
	if err != nil {
		t.Fatalf("Get() error = %v, want the 503 response", err)
	}
	if got := readBody(t, resp); resp.StatusCode != http.StatusServiceUnavailable || got != "down\n" {
		t.Errorf("Get() = %d %q, want 503 %q", resp.StatusCode, got, "down\n")
	}
}

func TestTransportNilPolicyAndNoResponse(t *testing.T) {
	ts := newServer(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	resp, err := newClient(ts, nil).Get(ts.URL)
	if err != nil {
		t.Fatalf("Get() error = %v", err)
	}
	if got := readBody(t, resp); got != "ok" {
		t.Errorf("Get() body = %q, want %q", got, "ok")
	}

	swallow := callguard.PolicyFunc(func(callguard.Handler) callguard.Handler {
		return func(context.Context, func(context.Context) error) error { return nil }
	})
	if _, err := newClient(ts, swallow).Get(ts.URL); !errors.Is(err, errNoResponse) {
		t.Errorf("Get() with a policy that makes no attempt: error = %v, want errNoResponse", err)
	}
}

func TestWithClassifier(t *testing.T) {
	var calls counter
	ts := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		calls.next()
		w.WriteHeader(http.StatusNotFound)
	})
	// 404 is a retryable failure here (a service still starting, say).
	f := func(req *http.Request, resp *http.Response, err error) error {
		if resp != nil && resp.StatusCode == http.StatusNotFound {
			return errors.New("not there yet")
		}
		return Classify(req, resp, err)
	}
	resp, err := newClient(ts, fastRetry(3), WithClassifier(f)).Get(ts.URL)
	if err != nil {
		t.Fatalf("Get() error = %v", err)
	}
	resp.Body.Close()
	if got := calls.get(); got != 3 {
		t.Errorf("server got %d requests, want 3", got)
	}
}

func TestNewTransportPanics(t *testing.T) {
	defer func() {
		const want = "httpx: max pushback must be >= 0, got -1s"
		if r := recover(); r != want {
			t.Errorf("NewTransport() panic = %v, want %q", r, want)
		}
	}()
	NewTransport(nil, nil, WithMaxPushback(-time.Second))
}

// late returns a policy that refuses each call at once and hands the call
// to calls, for the test to run after the policy returned, as a policy
// that abandons a call it started in a goroutine may.
func late(calls chan<- func(context.Context) error) callguard.Policy {
	return callguard.PolicyFunc(func(callguard.Handler) callguard.Handler {
		return func(ctx context.Context, call func(context.Context) error) error {
			calls <- call
			return timeout.ErrTimeout
		}
	})
}

func TestTransportLateAttempt(t *testing.T) {
	var calls counter
	ts := newServer(t, func(w http.ResponseWriter, r *http.Request) { calls.next() })
	pending := make(chan func(context.Context) error, 1)
	c := newClient(ts, late(pending))
	if _, err := c.Get(ts.URL); !errors.Is(err, timeout.ErrTimeout) {
		t.Fatalf("Get() error = %v, want timeout.ErrTimeout", err)
	}
	call := <-pending
	if _, err := c.Get(ts.URL); !errors.Is(err, timeout.ErrTimeout) { // may reuse the state
		t.Fatalf("Get() error = %v, want timeout.ErrTimeout", err)
	}
	if err := call(context.Background()); !errors.Is(err, errLate) {
		t.Errorf("late attempt = %v, want errLate", err)
	}
	if err := (<-pending)(context.Background()); !errors.Is(err, errLate) {
		t.Errorf("late attempt = %v, want errLate", err)
	}
	if n := calls.get(); n != 0 {
		t.Errorf("server got %d requests, want 0", n)
	}
}

// TestTransportCallerErrors: errors that the caller made before anything
// reached the network are permanent: tried once, and not counted by a
// breaker, which stays closed for valid calls to a healthy server.
func TestTransportCallerErrors(t *testing.T) {
	var hits counter
	healthy := newServer(t, func(w http.ResponseWriter, r *http.Request) { hits.next() })
	tlsServer := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.next() }))
	t.Cleanup(tlsServer.Close)
	wrongName := tlsServer.Client().Transport.(*http.Transport).Clone() // trusts the certificate
	wrongName.TLSClientConfig.ServerName = "not.example.org"
	t.Cleanup(wrongName.CloseIdleConnections)

	tests := []struct {
		name string
		give func() *http.Request
		next http.RoundTripper // nil: an *http.Transport that trusts no test certificate
	}{
		{"unsupported scheme", func() *http.Request {
			req, _ := http.NewRequest(http.MethodGet, "ftp://127.0.0.1/file", nil)
			return req
		}, nil},
		{"CR/LF in a header", func() *http.Request {
			req, _ := http.NewRequest(http.MethodGet, healthy.URL, nil)
			req.Header.Set("X-Note", "a\r\nInjected: 1")
			return req
		}, nil},
		{"unknown authority", func() *http.Request {
			req, _ := http.NewRequest(http.MethodGet, tlsServer.URL, nil)
			return req
		}, nil},
		{"wrong host name", func() *http.Request {
			req, _ := http.NewRequest(http.MethodGet, tlsServer.URL, nil)
			return req
		}, wrongName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next := tt.next
			if next == nil {
				tr := &http.Transport{}
				t.Cleanup(tr.CloseIdleConnections)
				next = tr
			}
			var retries counter
			cb := breaker.New()
			r := fastRetry(3, retry.OnRetry(func(context.Context, int, error, time.Duration) { retries.next() }))
			c := &http.Client{Transport: NewTransport(next, callguard.Chain(r, cb))}
			for i := 0; i < 3; i++ {
				resp, err := c.Do(tt.give())
				if err == nil {
					resp.Body.Close()
					t.Fatalf("Do() error = nil, want the caller's error")
				}
				if !callguard.IsPermanent(err) {
					t.Errorf("Do() error = %v, want a permanent one", err)
				}
			}
			if retries.get() != 0 || hits.get() != 0 {
				t.Errorf("%d retries, %d requests served; want 0 and 0", retries.get(), hits.get())
			}
			resp, err := c.Get(healthy.URL)
			if err != nil {
				t.Fatalf("Get(healthy) error = %v after the caller's errors, want nil (breaker %v)", err, cb.State())
			}
			resp.Body.Close()
			if hits.get() != 1 {
				t.Errorf("healthy server served %d requests, want 1", hits.get())
			}
			hits.n.Store(0)
		})
	}
}

// TestTransportNoReplayNoWait: a request whose body cannot be sent again
// gets its 503 at once, without the retry policy waiting out Retry-After
// for an attempt it cannot make.
func TestTransportNoReplayNoWait(t *testing.T) {
	var calls, retries counter
	ts := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		calls.next()
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Retry-After", "2")
		http.Error(w, "busy", http.StatusServiceUnavailable)
	})
	r := retry.New(retry.WithMaxAttempts(3), retry.OnRetry(func(context.Context, int, error, time.Duration) { retries.next() }))
	req, _ := http.NewRequest(http.MethodPost, ts.URL, io.NopCloser(strings.NewReader("once"))) // no GetBody
	resp, err := newClient(ts, r).Do(req)
	if err != nil {
		t.Fatalf("Do() error = %v, want the 503 response", err)
	}
	if got := readBody(t, resp); resp.StatusCode != http.StatusServiceUnavailable || got != "busy\n" {
		t.Errorf("Do() = %d %q, want 503 %q", resp.StatusCode, got, "busy\n")
	}
	if calls.get() != 1 || retries.get() != 0 {
		t.Errorf("server got %d requests, retry waited %d times; want 1 and 0", calls.get(), retries.get())
	}
}
