package hedge_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callguard/callguard/hedge"
)

// TestHTTPStragglers runs a real loopback HTTP server where every 100th
// request it receives takes 200 ms and the others answer at once, and
// counts the client's calls that took 200 ms or more, without and with
// hedging. Without, each straggler is a slow call, exactly. With a hedge
// after 20 ms, a slow call needs the hedge to be 180 ms late as well; the
// bound (at most half as many) leaves room for a very busy machine. The
// time measured is the server's sleep, which a slow machine only makes
// longer, so the plain client's count cannot come out low.
func TestHTTPStragglers(t *testing.T) {
	const (
		calls    = 1000
		every    = 100
		straggle = 200 * time.Millisecond
	)
	var arrivals atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if arrivals.Add(1)%every == every/2 {
			select {
			case <-time.After(straggle):
			case <-r.Context().Done(): // a hedge won: the client went away
				return
			}
		}
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: 4}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	get := func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	run := func(do func(context.Context, func(context.Context) error) error) (slow int, sent int64) {
		start := arrivals.Load()
		for i := range calls {
			t0 := time.Now()
			if err := do(context.Background(), get); err != nil {
				t.Fatalf("call %d: %v", i, err)
			}
			if time.Since(t0) >= straggle {
				slow++
			}
		}
		return slow, arrivals.Load() - start
	}

	plainSlow, plainSent := run(func(ctx context.Context, fn func(context.Context) error) error { return fn(ctx) })
	h := hedge.New(hedge.WithDelay(20 * time.Millisecond))
	hedgedSlow, hedgedSent := run(func(ctx context.Context, fn func(context.Context) error) error {
		return h.Do(hedge.ContextSafe(ctx), fn)
	})
	t.Logf("slow calls: %d plain, %d hedged; requests sent: %d plain, %d hedged (%d calls each)",
		plainSlow, hedgedSlow, plainSent, hedgedSent, calls)

	if plainSlow < calls/every {
		t.Errorf("plain client: %d slow calls, want at least %d (one per straggler)", plainSlow, calls/every)
	}
	if hedgedSlow > plainSlow/2 {
		t.Errorf("hedged client: %d slow calls, want at most half the plain client's %d", hedgedSlow, plainSlow)
	}
	if extra := hedgedSent - calls; extra < 1 || float64(extra) > hedge.DefaultRatio*calls+hedge.DefaultBurst {
		t.Errorf("hedged client sent %d extra requests, want in [1, %v] (the budget)", extra, hedge.DefaultRatio*calls+hedge.DefaultBurst)
	}
}
