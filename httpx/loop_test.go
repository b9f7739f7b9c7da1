package httpx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/ttl"
)

// A service is a real server on loopback for the multi-service tests: a
// Handler with its policy and options around a handler that does some work
// and then, if the service has a next one, calls it through NewTransport
// with the request's context and passes a failure on with Error.
type service struct {
	name   string
	ts     *httptest.Server
	work   time.Duration // before calling next
	next   *service
	client *http.Client
	hits   counter // requests that reached the server
	runs   counter // runs of the handler
	seen   func(r *http.Request)
}

// newService starts a service whose Handler has policy p and options opts.
func newService(t *testing.T, name string, p callguard.Policy, opts ...HandlerOption) *service {
	t.Helper()
	s := &service{name: name}
	h := Handler(http.HandlerFunc(s.handle), p, opts...)
	s.ts = newServer(t, func(w http.ResponseWriter, r *http.Request) {
		s.hits.next()
		h.ServeHTTP(w, r)
	})
	return s
}

// callTo makes s call next, through a client whose transport has policy p.
func (s *service) callTo(next *service, p callguard.Policy) {
	s.next, s.client = next, newClient(next.ts, p)
}

func (s *service) handle(w http.ResponseWriter, r *http.Request) {
	s.runs.next()
	if s.seen != nil {
		s.seen(r)
	}
	if err := sleep(r.Context(), s.work); err != nil {
		Error(w, err)
		return
	}
	if s.next == nil {
		io.WriteString(w, s.name)
		return
	}
	resp, err := call(r.Context(), s.client, s.next.ts.URL)
	if err != nil {
		Error(w, err)
		return
	}
	defer resp.Body.Close()
	io.Copy(w, resp.Body)
}

// call gets url with ctx through c. A failed response becomes its error,
// as ResponseError has it; the body is closed then.
func call(ctx context.Context, c *http.Client, url string) (*http.Response, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	if err := ResponseError(resp); err != nil {
		resp.Body.Close()
		return nil, err
	}
	return resp, nil
}

// sleep waits d, or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// counts returns the hits and handler runs of services, for messages.
func counts(services ...*service) (hits, runs []int) {
	for _, s := range services {
		hits, runs = append(hits, s.hits.get()), append(runs, s.runs.get())
	}
	return hits, runs
}

// TestLoop wires three services into a cycle, a → b → c → a, each calling
// the next with a retrying client. The loop is refused on a's second
// arrival, before its handler runs; nothing is retried; and the first
// caller learns the whole loop.
func TestLoop(t *testing.T) {
	var svc []*service
	for _, name := range []string{"a", "b", "c"} {
		svc = append(svc, newService(t, name, ttl.New(ttl.WithService(name))))
	}
	for i, s := range svc {
		s.callTo(svc[(i+1)%len(svc)], fastRetry(3))
	}

	resp, err := newClient(svc[0].ts, fastRetry(3)).Get(svc[0].ts.URL)
	if err != nil {
		t.Fatalf("Get(a) error = %v", err)
	}
	resp.Body.Close()
	err = ResponseError(resp)
	var le *ttl.LoopError
	if resp.StatusCode != 508 || !errors.As(err, &le) || !reflect.DeepEqual(le.Path, []string{"a", "b", "c", "a"}) {
		t.Errorf("Get(a) = %d, ResponseError = %v; want 508 and a *ttl.LoopError with path a → b → c → a", resp.StatusCode, err)
	}
	if hits, runs := counts(svc...); !reflect.DeepEqual(hits, []int{2, 1, 1}) || !reflect.DeepEqual(runs, []int{1, 1, 1}) {
		t.Errorf("requests per service a, b, c = %v, handler runs %v; want [2 1 1] and [1 1 1]", hits, runs)
	}
}

// TestHopBudget runs a linear chain of eight services, the first an edge
// with a budget of 4 hops. Five handlers run: the fifth one's call is
// refused before it is sent, and the refusal travels back up.
func TestHopBudget(t *testing.T) {
	const budget, depth = 4, 8
	var svc []*service
	for i := range depth {
		name := fmt.Sprintf("s%d", i+1)
		var opts []HandlerOption
		tp := ttl.New(ttl.WithService(name))
		if i == 0 {
			tp, opts = ttl.New(ttl.WithService(name), ttl.WithDefaultHops(budget)), []HandlerOption{Edge()}
		}
		svc = append(svc, newService(t, name, tp, opts...))
	}
	for i := range depth - 1 {
		svc[i].callTo(svc[i+1], fastRetry(3))
	}

	req, _ := http.NewRequest(http.MethodGet, svc[0].ts.URL, nil)
	req.Header.Set("Callguard-Hops", "255") // ignored at the edge
	resp, err := svc[0].ts.Client().Do(req)
	if err != nil {
		t.Fatalf("Get(s1) error = %v", err)
	}
	resp.Body.Close()
	if err := ResponseError(resp); resp.StatusCode != 508 || !errors.Is(err, ttl.ErrExhausted) {
		t.Errorf("Get(s1) = %d, ResponseError = %v; want 508 and ttl.ErrExhausted", resp.StatusCode, err)
	}
	want := []int{1, 1, 1, 1, 1, 0, 0, 0} // budget + 1 services run
	if hits, runs := counts(svc...); !reflect.DeepEqual(hits, want) || !reflect.DeepEqual(runs, want) {
		t.Errorf("requests per service = %v, handler runs %v; want %v for both", hits, runs, want)
	}
}

// TestDeadlineTiers runs client → top → mid → bottom with a 100 ms
// deadline. top and mid work 30 ms each before they call down; bottom needs
// 60 ms (WithMinServiceTime), more than the 40 ms at most that is left
// when the call reaches it, so its handler never starts, retries included.
// With 300 ms, the same chain succeeds and bottom runs once.
func TestDeadlineTiers(t *testing.T) {
	tests := []struct {
		name           string
		give           time.Duration
		wantBottomRuns int
	}{
		{"100ms", 100 * time.Millisecond, 0},
		{"300ms", 300 * time.Millisecond, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			top := newService(t, "top", nil)
			mid := newService(t, "mid", nil)
			bottom := newService(t, "bottom", nil, WithMinServiceTime(60*time.Millisecond))
			top.work, mid.work, bottom.work = 30*time.Millisecond, 30*time.Millisecond, 60*time.Millisecond
			top.callTo(mid, fastRetry(3))
			mid.callTo(bottom, fastRetry(3))

			ctx, cancel := context.WithTimeout(context.Background(), tt.give)
			defer cancel()
			resp, err := call(ctx, newClient(top.ts, fastRetry(3)), top.ts.URL)
			if err == nil {
				resp.Body.Close()
			}
			hits, runs := counts(top, mid, bottom)
			t.Logf("requests top, mid, bottom = %v, handler runs %v; error %v", hits, runs, err)
			switch {
			case runs[2] != tt.wantBottomRuns:
				t.Errorf("bottom's handler ran %d times, want %d", runs[2], tt.wantBottomRuns)
			case tt.wantBottomRuns == 0 && !isTimeout(err):
				t.Errorf("error = %v, want a 504 or a deadline", err)
			case tt.wantBottomRuns > 0 && err != nil:
				t.Errorf("error = %v, want success", err)
			}
			// A too-late 504 says "don't retry" (Callguard-Pushback: -1), and
			// every tier passes that on: no tier sends the request twice.
			for i, n := range hits {
				if n > 1 {
					t.Errorf("tier %d got %d requests, want at most 1: a too-late 504 was retried", i, n)
				}
			}
		})
	}
}

// isTimeout reports whether err is a 504 answer or a deadline.
func isTimeout(err error) bool {
	var se *StatusError
	return errors.As(err, &se) && se.StatusCode == http.StatusGatewayTimeout || errors.Is(err, context.DeadlineExceeded)
}

// TestRequestIDAcrossHops checks that a request id, created at the first
// hop or sent by the client, reaches the second hop and comes back in the
// first hop's response.
func TestRequestIDAcrossHops(t *testing.T) {
	for _, give := range []string{"", "client-id-7"} {
		front := newService(t, "front", nil, WithRequestIDs())
		back := newService(t, "back", nil)
		front.callTo(back, fastRetry(3))
		var atFront, atBack, backHeader string
		front.seen = func(r *http.Request) { atFront = callguard.RequestIDFromContext(r.Context()) }
		back.seen = func(r *http.Request) {
			atBack, backHeader = callguard.RequestIDFromContext(r.Context()), r.Header.Get("X-Request-Id")
		}

		req, _ := http.NewRequest(http.MethodGet, front.ts.URL, nil)
		if give != "" {
			req.Header.Set("X-Request-Id", give)
		}
		resp, err := front.ts.Client().Do(req)
		if err != nil {
			t.Fatalf("Get(front) error = %v", err)
		}
		resp.Body.Close()
		echoed := resp.Header.Get("X-Request-Id")
		if atFront == "" || give != "" && atFront != give || atBack != atFront || backHeader != atFront || echoed != atFront {
			t.Errorf("client sent %q: front has %q, back %q (header %q), response %q; want one id everywhere",
				give, atFront, atBack, backHeader, echoed)
		}
	}
}

// TestEdgeSpoofing sends forged callguard headers to an edge server and,
// for contrast, to a server that trusts its callers.
func TestEdgeSpoofing(t *testing.T) {
	tests := []struct {
		name   string
		header []string // name, value
		edge   bool
		check  func(ctx context.Context) error // on the handler's context
		want   int                             // status
	}{
		{"hops 255 at the edge", []string{"Callguard-Hops", "255"}, true, hopsAre(4), 200},
		{"hops 255 trusted", []string{"Callguard-Hops", "255"}, false, hopsAre(255), 200},
		{"own id in path at the edge", []string{"Callguard-Path", "x,edge"}, true, nil, 200},
		{"own id in path trusted", []string{"Callguard-Path", "x,edge"}, false, nil, 508},
		{"huge deadline at the edge", []string{"Callguard-Timeout", "99999999H"}, true, deadlineAtMost(time.Second), 200},
		{"huge deadline trusted", []string{"Callguard-Timeout", "99999999H"}, false, deadlineAtLeast(24 * time.Hour), 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []HandlerOption
			if tt.edge {
				opts = []HandlerOption{Edge(), WithMaxDeadline(time.Second)}
			}
			s := newService(t, "edge", ttl.New(ttl.WithService("edge"), ttl.WithDefaultHops(4)), opts...)
			var checkErr error = errors.New("handler did not run")
			s.seen = func(r *http.Request) {
				checkErr = nil
				if tt.check != nil {
					checkErr = tt.check(r.Context())
				}
			}
			req, _ := http.NewRequest(http.MethodGet, s.ts.URL, nil)
			req.Header.Set(tt.header[0], tt.header[1])
			resp, err := s.ts.Client().Do(req)
			if err != nil {
				t.Fatalf("Do() error = %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("status = %d, want %d", resp.StatusCode, tt.want)
			}
			if tt.want == 200 && checkErr != nil {
				t.Error(checkErr)
			}
		})
	}
}

func hopsAre(want int) func(context.Context) error {
	return func(ctx context.Context) error {
		if n, _ := ttl.FromContext(ctx); n != want {
			return fmt.Errorf("handler's hop budget = %d, want %d", n, want)
		}
		return nil
	}
}

func deadlineAtMost(d time.Duration) func(context.Context) error {
	return func(ctx context.Context) error {
		if left := timeLeft(ctx); left < 0 || left > d {
			return fmt.Errorf("handler's deadline in %v, want at most %v", left, d)
		}
		return nil
	}
}

func deadlineAtLeast(d time.Duration) func(context.Context) error {
	return func(ctx context.Context) error {
		if left := timeLeft(ctx); left < d {
			return fmt.Errorf("handler's deadline in %v, want at least %v", left, d)
		}
		return nil
	}
}

// TestEdgeHidesPath: a loop found downstream, passed on with Error or
// copied from the dependency's response, reaches the internet client of an
// Edge server without the internal path.
func TestEdgeHidesPath(t *testing.T) {
	const internal = "edge,orders-db-10.0.3.7,billing-internal"
	inner := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Callguard-Error", "loop")
		w.Header().Set("Callguard-Path", internal)
		w.WriteHeader(http.StatusLoopDetected)
	})
	client := newClient(inner, nil)
	edge := newServer(t, Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, inner.URL, nil)
		resp, err := client.Do(req)
		if err != nil {
			Error(w, err)
			return
		}
		defer resp.Body.Close()
		if r.URL.Path == "/copy" { // a proxy: the dependency's answer as it is
			maps.Copy(w.Header(), resp.Header)
			w.WriteHeader(resp.StatusCode)
			io.Copy(w, resp.Body)
			return
		}
		Error(w, ResponseError(resp))
	}), ttl.New(ttl.WithService("edge")), Edge()).ServeHTTP)

	for _, path := range []string{"/error", "/copy"} {
		resp, err := edge.Client().Get(edge.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body := readBody(t, resp)
		if resp.StatusCode != http.StatusLoopDetected || resp.Header.Get("Callguard-Path") != "" || strings.Contains(body, "orders-db") {
			t.Errorf("Get(%s) = %d with Callguard-Path %q, body %q; want 508 without the path", path, resp.StatusCode, resp.Header.Get("Callguard-Path"), body)
		}
	}
}
