package callguard_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/breaker"
	"github.com/callguard/callguard/bulkhead"
	"github.com/callguard/callguard/httpx"
	"github.com/callguard/callguard/loadshed"
	"github.com/callguard/callguard/retry"
	"github.com/callguard/callguard/timeout"
)

// recommendedClient is the client stack of the README's Usage section.
func recommendedClient(b *breaker.Breaker) callguard.Policy {
	return callguard.Chain(
		loadshed.NewThrottle(),
		retry.New(retry.WithBudget(retry.NewBudget())),
		b,
		bulkhead.New(64),
		timeout.New(300*time.Millisecond),
	)
}

// shedding is a real HTTP server that answers as a server's load shedder
// does (503 with "Callguard-Pushback: -1", through httpx.Error) whenever
// shed says so for the n-th request, and 200 otherwise; fail turns its
// other answers into 500s.
type shedding struct {
	hits atomic.Int64
	shed func(n int64) bool
	fail atomic.Bool
}

func (s *shedding) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := s.hits.Add(1)
	switch {
	case s.shed(n):
		// What a server's limiter answers when it sheds a call itself
		// (httpx.Error would say the refusal was passed on from below).
		w.Header().Set("Callguard-Pushback", "-1")
		http.Error(w, "shed", http.StatusServiceUnavailable)
	case s.fail.Load():
		http.Error(w, "broken", http.StatusInternalServerError)
	default:
		io.WriteString(w, "ok")
	}
}

func get(t *testing.T, c *http.Client, url string) (int, error) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// TestStackKeepsGoodputWhenServerSheds: a healthy server that sheds half
// of its calls, as one does at twice its capacity, is alive and doing its
// job. The README's client stack must keep sending it every call (the
// throttle lets through K = 2 calls per accepted one, no fewer than it
// sends), retry none of the shed calls, and keep its breaker closed, so
// that every call the server would accept succeeds. When the breaker counted shed answers as
// failures, it opened at 50% of 20 calls and cut the goodput of such a
// server to under 1%.
func TestStackKeepsGoodputWhenServerSheds(t *testing.T) {
	srv := &shedding{shed: func(n int64) bool { return n%2 == 0 }}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	cb := breaker.New()
	c := &http.Client{Transport: httpx.NewTransport(nil, recommendedClient(cb))}
	const calls = 200
	ok := 0
	for range calls {
		code, err := get(t, c, ts.URL)
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		if code == http.StatusOK {
			ok++
		}
	}
	if got := srv.hits.Load(); got != calls {
		t.Errorf("server saw %d calls, want %d: none refused locally, none retried", got, calls)
	}
	if want := calls / 2; ok != want {
		t.Errorf("%d calls succeeded, want %d (every one the server accepted)", ok, want)
	}
	if st := cb.State(); st != breaker.Closed {
		t.Errorf("breaker %v after shed answers, want closed; counts %+v", st, cb.Counts())
	}
}

// TestStackThrottlesAndBreaks shows the two signals go to two policies: a
// server that sheds everything gets few calls, from the throttle, and the
// breaker stays closed; a server that fails with 500s opens the breaker.
func TestStackThrottlesAndBreaks(t *testing.T) {
	srv := &shedding{shed: func(int64) bool { return true }}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	cb := breaker.New()
	c := &http.Client{Transport: httpx.NewTransport(nil, recommendedClient(cb))}
	const calls = 400
	for range calls {
		if code, err := get(t, c, ts.URL); err == nil && code == http.StatusOK {
			t.Fatalf("Get = 200 from a server that sheds everything")
		}
	}
	// The throttle's rejection probability after n rejected calls is
	// n/(n+1): the server sees about ln(400) ≈ 6 calls; 100 is far beyond
	// any chance.
	if got := srv.hits.Load(); got >= calls/4 {
		t.Errorf("server that sheds everything saw %d of %d calls, want few: the throttle sends less", got, calls)
	}
	if st := cb.State(); st != breaker.Closed {
		t.Errorf("breaker %v from shed answers alone, want closed", st)
	}

	broken := &shedding{shed: func(int64) bool { return false }}
	broken.fail.Store(true)
	tb := httptest.NewServer(broken)
	defer tb.Close()
	cb = breaker.New()
	c = &http.Client{Transport: httpx.NewTransport(nil, recommendedClient(cb))}
	for range 10 {
		get(t, c, tb.URL)
	}
	if st := cb.State(); st != breaker.Open {
		t.Errorf("breaker %v after 10 calls answered 500, want open", st)
	}
}
