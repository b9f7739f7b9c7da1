package callguard_test

import (
	"context"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/callguardtest"
	"github.com/callguard/callguard/hedge"
)

// TestGetHedged: a hedge runs a second attempt while the first still runs,
// and both succeed. Get must return one of their values, with no data race
// between the two attempts that store it (run with -race, as CI does).
func TestGetHedged(t *testing.T) {
	t.Parallel()
	clk := callguardtest.NewClock()
	h := hedge.New(hedge.WithDelay(time.Second), hedge.WithClock(clk))
	var attempts atomic.Int32
	release := make(chan struct{})
	type got struct {
		v   int
		err error
	}
	gotc := make(chan got, 1)
	go func() {
		v, err := callguard.Get(hedge.ContextSafe(context.Background()), h, func(context.Context) (int, error) {
			n := int(attempts.Add(1))
			if n == 1 {
				<-release // slow, and ignores its context
			}
			return n, nil
		})
		gotc <- got{v, err}
	}()
	clk.BlockUntil(1) // the hedge's delay
	clk.Advance(time.Second)
	for attempts.Load() < 2 { // the hedge has started
		runtime.Gosched()
	}
	close(release)
	g := <-gotc
	if (g.v != 1 && g.v != 2) || g.err != nil {
		t.Errorf("Get(…) = %v, %v, want 1 or 2, nil", g.v, g.err)
	}
	if n := attempts.Load(); n != 2 {
		t.Errorf("%d attempts, want 2", n)
	}
}
