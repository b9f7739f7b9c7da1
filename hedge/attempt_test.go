package hedge_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/hedge"
	"github.com/callguard/callguard/retry"
)

// TestAttemptNumbersInRetry checks the numbers that reach the wire
// (callguard.Attempt) when a retry holds a hedge: each first attempt of a
// round waits until its hedge has started, then every attempt fails, so
// that the retry runs a second round. Round 1 sends attempts 1 and 2 (the
// hedge), round 2 (the retry, attempt 2) sends 2 and 3.
func TestAttemptNumbersInRetry(t *testing.T) {
	t.Parallel()
	h := hedge.New(hedge.WithDelay(0), hedge.WithBudget(1, 100))
	r := retry.New(retry.WithBackoff(0, 0), retry.WithMaxAttempts(2))
	var (
		mu   sync.Mutex
		seen [][2]int // {hedge.Attempt, callguard.Attempt}
	)
	hedged := make(chan struct{}, 2)
	call := func(ctx context.Context) error {
		n, _ := hedge.Attempt(ctx)
		mu.Lock()
		seen = append(seen, [2]int{n, callguard.Attempt(ctx)})
		mu.Unlock()
		if n == 1 {
			select {
			case <-hedged:
			case <-time.After(10 * time.Second): // a safety net only
				t.Error("the hedge did not start")
			}
			return errors.New("first fails")
		}
		hedged <- struct{}{}
		return errors.New("hedge fails")
	}
	_ = callguard.Chain(r, h).Wrap(callguard.Invoke)(callguard.ContextSafe(context.Background()), call)
	slices.SortFunc(seen, func(a, b [2]int) int { return a[1]*10 + a[0] - b[1]*10 - b[0] })
	want := [][2]int{{1, 1}, {1, 2}, {2, 2}, {2, 3}}
	if !slices.Equal(seen, want) {
		t.Errorf("{hedge attempt, call attempt} = %v, want %v", seen, want)
	}
}
