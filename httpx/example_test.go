package httpx_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"time"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/breaker"
	"github.com/callguard/callguard/bulkhead"
	"github.com/callguard/callguard/httpx"
	"github.com/callguard/callguard/retry"
	"github.com/callguard/callguard/timeout"
	"github.com/callguard/callguard/ttl"
)

func ExampleNewTransport() {
	// A server that is busy for its first two requests.
	var calls atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 2 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "hello")
	}))
	defer ts.Close()

	policy := callguard.Chain(
		retry.New(retry.WithBackoff(time.Millisecond, 10*time.Millisecond)),
		breaker.New(breaker.WithName("hello")),
		bulkhead.New(64),
		timeout.New(time.Second), // per attempt
	)
	// nil instead of ts.Client().Transport means http.DefaultTransport.
	client := &http.Client{Transport: httpx.NewTransport(ts.Client().Transport, policy)}

	resp, err := client.Get(ts.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Printf("%s after %d attempts: %s", resp.Status, calls.Load(), body)
	// Output: 200 OK after 3 attempts: hello
}

// The policy runs with the request's context, so a per-call setting of a
// policy applies to one request: here retry's attempt count.
func ExampleNewTransport_perRequest() {
	var calls atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusBadGateway)
	}))
	defer ts.Close()
	client := &http.Client{Transport: httpx.NewTransport(ts.Client().Transport, retry.New(retry.WithBackoff(0, 0)))}

	for _, attempts := range []int{0, 1} {
		ctx := context.Background()
		if attempts > 0 {
			ctx = retry.ContextWithMaxAttempts(ctx, attempts)
		}
		calls.Store(0)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL, nil)
		resp, err := client.Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		resp.Body.Close()
		fmt.Println(resp.Status, "after", calls.Load(), "attempts")
	}
	// Output:
	// 502 Bad Gateway after 3 attempts
	// 502 Bad Gateway after 1 attempts
}

func ExampleHandler() {
	// The handler's dependency has failed: its breaker is open.
	payments := breaker.New(breaker.WithConsecutiveFailures(1))
	_ = payments.Do(context.Background(), func(context.Context) error { return errors.New("payments down") })

	mux := http.NewServeMux()
	mux.HandleFunc("/checkout", func(w http.ResponseWriter, r *http.Request) {
		err := payments.Do(r.Context(), func(ctx context.Context) error { return nil })
		if err != nil {
			httpx.Error(w, err) // tell the caller not to retry
			return
		}
		fmt.Fprintln(w, "paid")
	})
	ts := httptest.NewServer(httpx.Handler(mux, callguard.Chain(bulkhead.New(128), timeout.New(2*time.Second))))
	defer ts.Close()

	resp, err := ts.Client().Get(ts.URL + "/checkout")
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	fmt.Println(resp.Status, "Callguard-Pushback:", resp.Header.Get("Callguard-Pushback"))
	// Output: 503 Service Unavailable Callguard-Pushback: -1
}

// Two services call each other by mistake: a → b → a. Each server's
// pipeline starts with a ttl policy that knows its service's id; each
// handler calls the other with its request's context. a refuses the request
// when it comes back, before its handler runs again; b passes the refusal
// on with Error; the caller turns the response into an error with
// ResponseError and learns the whole loop.
func ExampleResponseError() {
	urls := map[string]string{}
	var runs atomic.Int32
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: httpx.NewTransport(tr, retry.New())}
	start := func(name, next string) *httptest.Server {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			runs.Add(1)
			req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, urls[next], nil)
			resp, err := client.Do(req)
			if err == nil {
				defer resp.Body.Close()
				err = httpx.ResponseError(resp)
			}
			httpx.Error(w, err) // nil: does nothing
		})
		ts := httptest.NewServer(httpx.Handler(h, ttl.New(ttl.WithService(name))))
		urls[name] = ts.URL
		return ts
	}
	a, b := start("a", "b"), start("b", "a")
	defer a.Close()
	defer b.Close()

	resp, err := client.Get(a.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	err = httpx.ResponseError(resp)
	var loop *ttl.LoopError
	fmt.Println(resp.Status, errors.As(err, &loop), loop.Path)
	fmt.Println("handlers run:", runs.Load())
	// Output:
	// 508 Loop Detected true [a b a]
	// handlers run: 2
}

// A server whose handler needs about 50 ms refuses at once a request that
// has less time left: its caller's deadline, sent in Callguard-Timeout by
// NewTransport, would pass before the answer.
func ExampleWithMinServiceTime() {
	var runs int
	h := httpx.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		runs++
	}), nil, httpx.WithMinServiceTime(50*time.Millisecond))

	for _, left := range []string{"20m", "2S"} { // 20 ms, 2 s
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set("Callguard-Timeout", left)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		fmt.Println(left, rec.Code, "handler runs:", runs)
	}
	// Output:
	// 20m 504 handler runs: 0
	// 2S 200 handler runs: 1
}

// A server logs every request it refuses in its handler's place, with the
// request id that joins the log line to those of its callers.
func ExampleOnReject() {
	in := ttl.New(ttl.WithService("orders"))
	srv := httptest.NewServer(httpx.Handler(http.NotFoundHandler(), in,
		httpx.OnReject(func(r *http.Request, err error) {
			fmt.Printf("refused %s %s: %v\n", r.Method, r.URL.Path, err)
		})))
	defer srv.Close()

	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/orders/7", nil)
	req.Header.Set("X-Request-Id", "req-1")
	req.Header.Set(ttl.PathHeader, "gateway,orders,billing") // sent back to orders by mistake
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	fmt.Println(resp.Status)
	// Output:
	// refused GET /orders/7: ttl: call loop: gateway → orders → billing → orders [request req-1]
	// 508 Loop Detected
}
