package hedge_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/breaker"
	"github.com/callguard/callguard/bulkhead"
	"github.com/callguard/callguard/hedge"
	"github.com/callguard/callguard/retry"
)

// TestChainPosition runs the documented order, retry(hedge(breaker(
// bulkhead(call)))), on calls whose first attempt hangs until cancelled
// and whose hedge answers: the cancelled first attempts are not breaker
// failures, so the breaker stays closed however many calls are hedged.
// A bulkhead of one slot refuses the hedge (the first attempt holds the
// slot): the call then waits for its first attempt, and the refused hedge
// does not fail it.
func TestChainPosition(t *testing.T) {
	always := func(context.Context) bool { return true }
	cb := breaker.New(breaker.WithConsecutiveFailures(1))
	p := callguard.Chain(
		retry.New(retry.WithMaxAttempts(2), retry.WithBackoff(0, 0)),
		hedge.New(hedge.WithSafe(always), hedge.WithDelay(time.Millisecond), hedge.WithBudget(1, 1)),
		cb,
		bulkhead.New(8),
	)
	for i := range 20 {
		err := p.Do(context.Background(), func(ctx context.Context) error {
			if n, _ := hedge.Attempt(ctx); n == 1 {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(10 * time.Second): // safety net
					return errors.New("no hedge")
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("call %d: Do = %v, want nil (the hedge answers)", i, err)
		}
	}
	if got := cb.State(); got != breaker.Closed {
		t.Errorf("breaker %v after 20 hedged calls, want closed: cancelled losers are not failures", got)
	}

	var refused atomic.Int32
	one := callguard.Chain(
		hedge.New(hedge.WithSafe(always), hedge.WithDelay(time.Millisecond)),
		callguard.PolicyFunc(func(next callguard.Handler) callguard.Handler {
			return func(ctx context.Context, call func(context.Context) error) error {
				err := next(ctx, call)
				if errors.Is(err, bulkhead.ErrFull) {
					refused.Add(1)
				}
				return err
			}
		}),
		bulkhead.New(1),
	)
	release := make(chan struct{})
	go func() {
		for refused.Load() == 0 {
			time.Sleep(time.Millisecond)
		}
		close(release)
	}()
	err := one.Do(context.Background(), func(ctx context.Context) error {
		select {
		case <-release:
			return nil
		case <-time.After(10 * time.Second): // safety net
			return errors.New("the hedge was never refused")
		}
	})
	if err != nil {
		t.Errorf("Do with the hedge refused by a full bulkhead = %v, want the first attempt's nil", err)
	}
}
