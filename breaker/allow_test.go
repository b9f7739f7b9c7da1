package breaker

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/callguard/callguard/callguardtest"
)

// TestAllowSharesState checks that Allow and Do work on one circuit: the
// view of gobreaker's two-step breaker on the Breaker's own.
func TestAllowSharesState(t *testing.T) {
	fake := callguardtest.NewClock()
	cb := New(WithConsecutiveFailures(2), WithOpenTimeout(time.Minute), WithClock(fake), WithWindow(0, 0))
	done, err := cb.Allow()
	if err != nil {
		t.Fatalf("Allow() = %v, want nil", err)
	}
	done(errBoom)
	if err := cb.Do(context.Background(), fail); err != errBoom {
		t.Fatalf("Do(…) = %v", err)
	}
	if got := cb.State(); got != Open {
		t.Fatalf("State() after a failure by Allow and one by Do = %v, want open", got)
	}
	if _, err := cb.Allow(); !errors.Is(err, ErrOpen) {
		t.Fatalf("Allow() while open = %v, want ErrOpen", err)
	}
	fake.Advance(time.Minute)
	done, err = cb.Allow() // the probe
	if err != nil {
		t.Fatalf("Allow() after the open timeout = %v, want nil", err)
	}
	if _, err := cb.Allow(); !errors.Is(err, ErrOpen) {
		t.Errorf("second Allow() while the probe runs = %v, want ErrOpen", err)
	}
	done(context.Canceled) // excluded: frees the slot, stays half-open
	if got := cb.State(); got != HalfOpen {
		t.Fatalf("State() = %v, want half-open", got)
	}
	done, _ = cb.Allow()
	done(nil)
	if got, c := cb.State(), cb.Counts(); got != Closed || c != (Counts{}) {
		t.Errorf("State() = %v, Counts %+v; want closed, zero", got, c)
	}
}

func TestAllowSlowCall(t *testing.T) {
	fake := callguardtest.NewClock()
	cb := New(WithConsecutiveFailures(1), WithSlowCallThreshold(time.Second), WithClock(fake))
	done, _ := cb.Allow()
	fake.Advance(2 * time.Second)
	done(nil)
	if got := cb.State(); got != Open {
		t.Errorf("State() after a slow call = %v, want open", got)
	}
}
