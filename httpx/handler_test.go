package httpx

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/breaker"
	"github.com/callguard/callguard/bulkhead"
	"github.com/callguard/callguard/loadshed"
	"github.com/callguard/callguard/timeout"
)

// refuse returns a policy that refuses every call with err.
func refuse(err error) callguard.Policy {
	return callguard.PolicyFunc(func(callguard.Handler) callguard.Handler {
		return func(context.Context, func(context.Context) error) error { return err }
	})
}

// record returns a policy that runs the call and stores its error in *got.
func record(got *error) callguard.Policy {
	return callguard.PolicyFunc(func(next callguard.Handler) callguard.Handler {
		return func(ctx context.Context, call func(context.Context) error) error {
			*got = next(ctx, call)
			return *got
		}
	})
}

// coded is an error with a Callguard-Error code, as ttl's errors are.
type coded string

func (c coded) Error() string          { return "refused: " + string(c) }
func (c coded) CallguardError() string { return string(c) }

// fullBulkhead returns a bulkhead whose only slot is taken.
func fullBulkhead(t *testing.T) *bulkhead.Bulkhead {
	b := bulkhead.New(1)
	if !b.TryAcquire() {
		t.Fatal("TryAcquire() = false")
	}
	t.Cleanup(b.Release)
	return b
}

func okHandler(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }

func TestHandlerMapping(t *testing.T) {
	hang := func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }
	tests := []struct {
		name        string
		policy      func(t *testing.T) callguard.Policy
		handler     http.HandlerFunc
		wantStatus  int
		wantHeaders map[string]string // "" value: header absent
	}{
		{"success", func(*testing.T) callguard.Policy { return bulkhead.New(1) }, okHandler, 200,
			map[string]string{"Callguard-Pushback": "", "Retry-After": ""}},
		{"bulkhead full", func(t *testing.T) callguard.Policy { return fullBulkhead(t) }, okHandler, 503,
			map[string]string{"Callguard-Pushback": "-1", "Retry-After": ""}},
		{"breaker open", func(*testing.T) callguard.Policy { return refuse(breaker.ErrOpen) }, okHandler, 503,
			map[string]string{"Callguard-Pushback": "-1", "Retry-After": ""}},
		{"overloaded with delay", func(*testing.T) callguard.Policy { return refuse(callguard.Overloaded(1500*time.Millisecond, nil)) }, okHandler, 503,
			map[string]string{"Callguard-Pushback": "1500", "Retry-After": "2"}},
		{"timeout", func(*testing.T) callguard.Policy { return timeout.New(10 * time.Millisecond) }, hang, 504,
			map[string]string{"Callguard-Pushback": ""}},
		{"deadline", func(*testing.T) callguard.Policy { return refuse(context.DeadlineExceeded) }, okHandler, 504,
			map[string]string{"Callguard-Pushback": ""}},
		{"too late", func(*testing.T) callguard.Policy { return refuse(loadshed.ErrDeadline) }, okHandler, 504,
			map[string]string{"Callguard-Pushback": "-1"}},
		{"loop", func(*testing.T) callguard.Policy { return refuse(callguard.Permanent(coded("loop"))) }, okHandler, 508,
			map[string]string{"Callguard-Error": "loop"}},
		{"hops", func(*testing.T) callguard.Policy { return refuse(coded("hops")) }, okHandler, 508,
			map[string]string{"Callguard-Error": "hops"}},
		{"canceled", func(*testing.T) callguard.Policy { return refuse(context.Canceled) }, okHandler, 503,
			map[string]string{"Callguard-Pushback": ""}},
		{"other", func(*testing.T) callguard.Policy { return refuse(errors.New("boom")) }, okHandler, 500,
			map[string]string{"Callguard-Pushback": "", "Callguard-Error": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			Handler(tt.handler, tt.policy(t)).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
			if rec.Code != tt.wantStatus {
				t.Errorf("status = %d, want %d", rec.Code, tt.wantStatus)
			}
			for k, want := range tt.wantHeaders {
				if got := rec.Header().Get(k); got != want {
					t.Errorf("header %s = %q, want %q", k, got, want)
				}
			}
		})
	}
}

func TestError(t *testing.T) {
	tests := []struct {
		name         string
		give         error
		wantStatus   int
		wantPushback string
	}{
		{"breaker open downstream", breaker.ErrOpen, 503, "-1"},
		{"bulkhead full downstream", bulkhead.ErrFull, 503, "-1"},
		{"overloaded downstream with delay", callguard.Overloaded(2*time.Second, nil), 503, "-1"},
		{"timeout downstream", timeout.ErrTimeout, 504, ""},
		// Timeouts that are not retried, but not refusals for want of time:
		// the caller above may still retry them.
		{"POST timed out downstream", callguard.NoRetry(context.DeadlineExceeded), 504, ""},
		{"no time left to send", ErrNoTimeLeft, 504, ""},
		{"too late downstream", ResponseError(&http.Response{StatusCode: 504, Status: "504 Gateway Timeout",
			Header: http.Header{"Callguard-Pushback": {"-1"}}}), 504, "-1"},
		{"loop downstream", callguard.Permanent(&StatusError{StatusCode: 508, Status: "508 Loop Detected", Reason: "loop"}), 508, ""},
		{"other", errors.New("boom"), 500, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got error
			h := Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				Error(w, tt.give)
			}), record(&got))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
			if rec.Code != tt.wantStatus || rec.Header().Get("Callguard-Pushback") != tt.wantPushback || rec.Header().Get("Retry-After") != "" {
				t.Errorf("Error(%v): %d with pushback %q, retry-after %q; want %d with %q and none",
					tt.give, rec.Code, rec.Header().Get("Callguard-Pushback"), rec.Header().Get("Retry-After"), tt.wantStatus, tt.wantPushback)
			}
			if !errors.Is(got, tt.give) {
				t.Errorf("policy saw %v, want %v", got, tt.give)
			}
		})
	}
}

func TestErrorOutsideHandler(t *testing.T) {
	rec := httptest.NewRecorder()
	Error(rec, breaker.ErrOpen)
	if rec.Code != 503 || rec.Header().Get("Callguard-Pushback") != "-1" {
		t.Errorf("Error(ErrOpen) = %d with pushback %q, want 503 with -1", rec.Code, rec.Header().Get("Callguard-Pushback"))
	}
	rec = httptest.NewRecorder()
	Error(rec, nil)
	if rec.Code != 200 || rec.Body.Len() != 0 {
		t.Errorf("Error(nil) wrote %d %q, want nothing", rec.Code, rec.Body)
	}
}

// A wrapper is another middleware's ResponseWriter between Handler and the
// handler.
type wrapper struct{ http.ResponseWriter }

func (w wrapper) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func TestHandlerOutcomes(t *testing.T) {
	tests := []struct {
		name       string
		handler    http.HandlerFunc
		wantStatus int
		wantErr    bool // the policy sees an error
	}{
		{"200", okHandler, 200, false},
		{"implicit 200", func(http.ResponseWriter, *http.Request) {}, 200, false},
		{"404", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }, 404, false},
		{"500 written", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }, 500, true},
		{"503 written", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "x", http.StatusServiceUnavailable) }, 503, true},
		{"Error through a wrapper", func(w http.ResponseWriter, r *http.Request) { Error(wrapper{w}, errors.New("boom")) }, 500, true},
		{"Error after the header", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(202)
			Error(w, breaker.ErrOpen)
		}, 202, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got error
			rec := httptest.NewRecorder()
			Handler(tt.handler, record(&got)).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
			if rec.Code != tt.wantStatus || (got != nil) != tt.wantErr {
				t.Errorf("status %d, policy saw %v; want %d, error %v", rec.Code, got, tt.wantStatus, tt.wantErr)
			}
		})
	}

	var got error
	rec := httptest.NewRecorder()
	Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(502) }), record(&got)).
		ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	var se *StatusError
	if !errors.As(got, &se) || se.StatusCode != 502 || se.Status != "502 Bad Gateway" {
		t.Errorf("policy saw %v, want a *StatusError for 502", got)
	}
}

func TestHandlerRunsNextOnce(t *testing.T) {
	twice := callguard.PolicyFunc(func(next callguard.Handler) callguard.Handler {
		return func(ctx context.Context, call func(context.Context) error) error {
			next(ctx, call)
			return next(ctx, call)
		}
	})
	var runs int
	h := Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		runs++
		w.WriteHeader(500)
	}), twice)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if runs != 1 || rec.Code != 500 {
		t.Errorf("next ran %d times, status %d; want once, 500", runs, rec.Code)
	}
}

func TestHandlerContext(t *testing.T) {
	var deadline bool
	h := Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, deadline = r.Context().Deadline()
	}), timeout.New(time.Minute))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	if !deadline {
		t.Error("handler's request has no deadline, want the timeout policy's")
	}
}

func TestHandlerWaitsForAbandonedHandler(t *testing.T) {
	done := make(chan struct{})
	h := Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
		time.Sleep(10 * time.Millisecond) // still busy after the policy gave up
		io.WriteString(w, "late")
		close(done)
	}), timeout.New(5*time.Millisecond, timeout.WithAbandon()))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	select {
	case <-done:
	default:
		t.Fatal("ServeHTTP returned before the abandoned handler")
	}
	if rec.Code != 200 || rec.Body.String() != "late" {
		t.Errorf("response = %d %q, want the handler's 200 %q", rec.Code, rec.Body, "late")
	}
}

func TestHandlerLateCall(t *testing.T) {
	type kept struct {
		ctx  context.Context
		call func(context.Context) error
	}
	var runs int
	pending := make(chan kept, 1)
	keep := callguard.PolicyFunc(func(callguard.Handler) callguard.Handler {
		return func(ctx context.Context, call func(context.Context) error) error {
			pending <- kept{ctx, call}
			return timeout.ErrTimeout
		}
	})
	h := Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { runs++ }), keep)
	for i := 0; i < 2; i++ {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		if rec.Code != http.StatusGatewayTimeout {
			t.Errorf("status = %d, want 504", rec.Code)
		}
		k := <-pending
		if err := k.call(k.ctx); !errors.Is(err, errServedLate) {
			t.Errorf("late call = %v, want errServedLate", err)
		}
		// A context that does not derive from the policy's leads to no
		// request: the call refuses to run rather than guess.
		if err := k.call(context.Background()); !errors.Is(err, errNoServing) || !callguard.IsPermanent(err) {
			t.Errorf("call with an unrelated context = %v, want permanent errNoServing", err)
		}
	}
	if runs != 0 {
		t.Errorf("handler ran %d times, want 0", runs)
	}
}

func TestHandlerResponseWriter(t *testing.T) {
	ts := newServer(t, Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := w.(http.Flusher); !ok {
			t.Error("ResponseWriter is not an http.Flusher")
		}
		io.WriteString(w, "a")
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("ResponseController.Flush() = %v", err)
		}
		if _, err := io.Copy(w, strings.NewReader("b")); err != nil { // ReadFrom
			t.Errorf("io.Copy() = %v", err)
		}
		w.(http.Flusher).Flush()
	}), nil).ServeHTTP)
	resp, err := ts.Client().Get(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	if got := readBody(t, resp); got != "ab" {
		t.Errorf("body = %q, want %q", got, "ab")
	}
}

func TestHandlerInformationalHeader(t *testing.T) {
	ts := newServer(t, Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</a.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints) // not the response yet
		Error(w, breaker.ErrOpen)
	}), nil).ServeHTTP)
	resp, err := ts.Client().Get(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("Callguard-Pushback") != "-1" {
		t.Errorf("Get() = %d with pushback %q, want 503 with -1", resp.StatusCode, resp.Header.Get("Callguard-Pushback"))
	}
}

// TestDontRetryTravelsUpward runs a chain of two real servers: front calls
// back through NewTransport and answers with Error. back's breaker is
// open, so front's client is told "don't retry"; front tells its own
// caller the same, and nobody retries.
func TestDontRetryTravelsUpward(t *testing.T) {
	var backCalls, frontCalls counter
	back := newServer(t, Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		backCalls.next()
	}), refuse(breaker.ErrOpen)).ServeHTTP)
	backClient := newClient(back, fastRetry(3))
	front := newServer(t, Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		frontCalls.next()
		req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, back.URL, nil)
		resp, err := backClient.Do(req)
		if err != nil {
			Error(w, err)
			return
		}
		defer resp.Body.Close()
		if err := Classify(resp.Request, resp, nil); err != nil {
			Error(w, err)
			return
		}
		io.Copy(w, resp.Body)
	}), nil).ServeHTTP)

	resp, err := newClient(front, fastRetry(3)).Get(front.URL)
	if err != nil {
		t.Fatalf("Get() error = %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("Callguard-Pushback") != "-1" {
		t.Errorf("Get() = %d with pushback %q, want 503 with -1", resp.StatusCode, resp.Header.Get("Callguard-Pushback"))
	}
	if backCalls.get() != 0 || frontCalls.get() != 1 {
		t.Errorf("front got %d requests, back's handler ran %d times; want 1 and 0", frontCalls.get(), backCalls.get())
	}
}

// TestHandlerLateWriteGoesNowhere: a handler that keeps its ResponseWriter
// and writes after it returned (a goroutine, a common bug) must not write
// into a later request's response, as it cannot with plain net/http.
func TestHandlerLateWriteGoesNowhere(t *testing.T) {
	release, wrote := make(chan struct{}), make(chan error)
	mux := http.NewServeMux()
	mux.HandleFunc("/buggy", func(w http.ResponseWriter, r *http.Request) {
		go func() {
			<-release
			w.Header().Set("X-Leak", "1")
			_, err := io.WriteString(w, "SECRET OF /buggy;")
			wrote <- err
		}()
	})
	mux.HandleFunc("/other", func(w http.ResponseWriter, r *http.Request) {
		release <- struct{}{} // /buggy's handler has returned: its goroutine writes now
		if err := <-wrote; err == nil {
			t.Error("late Write() = nil error, want one")
		}
		io.WriteString(w, "ok")
	})
	ts := newServer(t, Handler(mux, nil).ServeHTTP)
	for i := 0; i < 20; i++ { // the old pooled writer was reused by most of them
		resp, err := ts.Client().Get(ts.URL + "/buggy")
		if err != nil {
			t.Fatal(err)
		}
		readBody(t, resp)
		if resp, err = ts.Client().Get(ts.URL + "/other"); err != nil {
			t.Fatal(err)
		}
		if body := readBody(t, resp); body != "ok" || resp.Header.Get("X-Leak") != "" {
			t.Fatalf("/other = %q with X-Leak %q, want %q without", body, resp.Header.Get("X-Leak"), "ok")
		}
	}
}

// TestHandlerPanicAfterDeadline: a handler that a timeout policy abandoned
// and that panics after the policy returned (even with
// http.ErrAbortHandler) must not take the server down.
func TestHandlerPanicAfterDeadline(t *testing.T) {
	logged := make(chan string, 1)
	log.SetOutput(chanWriter(logged))
	defer log.SetOutput(os.Stderr)
	returned := make(chan struct{}, 1)
	afterReturn := callguard.PolicyFunc(func(next callguard.Handler) callguard.Handler {
		return func(ctx context.Context, call func(context.Context) error) error {
			err := next(ctx, call)
			returned <- struct{}{}
			return err
		}
	})
	p := callguard.Chain(afterReturn, timeout.New(20*time.Millisecond, timeout.WithAbandon()))
	ts := newServer(t, Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/panic" {
			<-returned // the timeout policy has given up on this call
			panic(http.ErrAbortHandler)
		}
		io.WriteString(w, "ok")
	}), p).ServeHTTP)

	resp, err := ts.Client().Get(ts.URL + "/panic")
	if err != nil {
		t.Fatalf("Get(/panic) error = %v, want the 504", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusGatewayTimeout {
		t.Errorf("Get(/panic) = %d, want 504", resp.StatusCode)
	}
	resp, err = ts.Client().Get(ts.URL + "/")
	if err != nil {
		t.Fatalf("Get(/) after the panic error = %v", err)
	}
	if body := readBody(t, resp); body != "ok" {
		t.Errorf("Get(/) after the panic = %q, want ok", body)
	}
	if line := <-logged; !strings.Contains(line, "abort Handler") {
		t.Errorf("log = %q, want the panic", line)
	}
}

// A chanWriter sends what is written to it on its channel.
type chanWriter chan<- string

func (w chanWriter) Write(p []byte) (int, error) { w <- string(p); return len(p), nil }

// TestHandlerWriterCapabilities: the ResponseWriter that the handler gets
// has exactly the optional interfaces of the server's own, over HTTP/1.1
// (no Pusher) and HTTP/2 (no Hijacker, no ReaderFrom), and Unwrap for
// http.ResponseController.
func TestHandlerWriterCapabilities(t *testing.T) {
	caps := func(w http.ResponseWriter) string {
		var s string
		for _, c := range []struct {
			name string
			ok   bool
		}{
			{"Flusher", is[http.Flusher](w)},
			{"Hijacker", is[http.Hijacker](w)},
			{"ReaderFrom", is[io.ReaderFrom](w)},
			{"Pusher", is[http.Pusher](w)},
		} {
			if c.ok {
				s += c.name + " "
			}
		}
		return s
	}
	for _, tt := range []struct {
		name      string
		http2     bool
		wantProto string
		want      string // the server's own writer
	}{
		{"HTTP/1.1", false, "HTTP/1.1", "Flusher Hijacker ReaderFrom "},
		{"HTTP/2", true, "HTTP/2.0", "Flusher Pusher "},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var orig, got string
			var flushErr, deadlineErr error
			h := Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got = caps(w)
				rc := http.NewResponseController(w)
				io.WriteString(w, "a")
				flushErr = rc.Flush()
				deadlineErr = rc.SetWriteDeadline(time.Now().Add(time.Minute))
				io.Copy(w, strings.NewReader("b"))
			}), nil)
			ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				orig = caps(w)
				h.ServeHTTP(w, r)
			}))
			ts.EnableHTTP2 = tt.http2
			ts.StartTLS()
			defer ts.Close()
			resp, err := ts.Client().Get(ts.URL)
			if err != nil {
				t.Fatal(err)
			}
			if body := readBody(t, resp); body != "ab" || resp.Proto != tt.wantProto {
				t.Errorf("Get() = %s %q, want %s %q", resp.Proto, body, tt.wantProto, "ab")
			}
			if orig != tt.want || got != orig {
				t.Errorf("handler's writer has %q, server's %q; want %q for both", got, orig, tt.want)
			}
			if flushErr != nil || deadlineErr != nil {
				t.Errorf("ResponseController: Flush() = %v, SetWriteDeadline() = %v; want nil, nil", flushErr, deadlineErr)
			}
		})
	}
}

func is[T any](w http.ResponseWriter) bool { _, ok := w.(T); return ok }
