package timeout_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/callguard/callguard/callguardtest"
	"github.com/callguard/callguard/timeout"
)

// waitDone is a call that honours its context: it returns ctx.Err() when
// ctx ends, and reports the deadline it saw on deadlines.
func waitDone(deadlines chan<- time.Time) func(context.Context) error {
	return func(ctx context.Context) error {
		d, _ := ctx.Deadline()
		deadlines <- d
		<-ctx.Done()
		return ctx.Err()
	}
}

func TestClockFires(t *testing.T) {
	t.Parallel()
	clk := callguardtest.NewClock()
	to := timeout.New(time.Second, timeout.WithClock(clk))
	deadlines := make(chan time.Time, 1)
	errc := make(chan error, 1)
	go func() { errc <- to.Do(context.Background(), waitDone(deadlines)) }()
	if got, want := <-deadlines, callguardtest.Start.Add(time.Second); !got.Equal(want) {
		t.Errorf("call's deadline = %v, want %v (the fake clock's)", got, want)
	}
	clk.BlockUntil(1)
	clk.Advance(999 * time.Millisecond)
	if n := clk.Timers(); n != 1 {
		t.Fatalf("after 999ms: %d timers waiting, want 1 (the timeout's)", n)
	}
	clk.Advance(time.Millisecond)
	// The call returned ctx.Err(): context.DeadlineExceeded, as from a
	// context.WithDeadline, which Do turns into ErrTimeout itself.
	if err := <-errc; err != timeout.ErrTimeout { //nolint:errorlint // ErrTimeout itself
		t.Errorf("Do = %v, want ErrTimeout", err)
	}
}

func TestClockSuccessStopsTimer(t *testing.T) {
	t.Parallel()
	clk := callguardtest.NewClock()
	to := timeout.New(time.Second, timeout.WithClock(clk))
	if err := to.Do(context.Background(), func(context.Context) error { return nil }); err != nil {
		t.Fatalf("Do = %v, want nil", err)
	}
	if n := clk.Timers(); n != 0 {
		t.Errorf("after Do: %d timers waiting, want 0", n)
	}
	want := errors.New("boom")
	if err := to.Do(context.Background(), func(context.Context) error { return want }); err != want { //nolint:errorlint // the error itself
		t.Errorf("Do = %v, want %v unchanged", err, want)
	}
}

// TestClockOuterSooner: an overall timeout of 500ms around a per-attempt
// one of 1s, both on the fake clock. The inner one sees the outer deadline
// is sooner and makes no context; the outer one fires.
func TestClockOuterSooner(t *testing.T) {
	t.Parallel()
	clk := callguardtest.NewClock()
	outer := timeout.New(500*time.Millisecond, timeout.WithClock(clk), timeout.WithOverall())
	inner := timeout.New(time.Second, timeout.WithClock(clk))
	deadlines := make(chan time.Time, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- outer.Do(context.Background(), func(ctx context.Context) error {
			return inner.Do(ctx, waitDone(deadlines))
		})
	}()
	if got, want := <-deadlines, callguardtest.Start.Add(500*time.Millisecond); !got.Equal(want) {
		t.Errorf("call's deadline = %v, want the outer %v", got, want)
	}
	if n := clk.Timers(); n != 1 {
		t.Errorf("%d timers waiting, want 1: the inner timeout makes none", n)
	}
	clk.Advance(500 * time.Millisecond)
	if err := <-errc; !errors.Is(err, timeout.ErrTimeout) {
		t.Errorf("Do = %v, want ErrTimeout", err)
	}
}

func TestClockCallerCancels(t *testing.T) {
	t.Parallel()
	clk := callguardtest.NewClock()
	to := timeout.New(time.Second, timeout.WithClock(clk))
	ctx, cancel := context.WithCancel(context.Background())
	deadlines := make(chan time.Time, 1)
	errc := make(chan error, 1)
	go func() { errc <- to.Do(ctx, waitDone(deadlines)) }()
	<-deadlines
	cancel()
	if err := <-errc; err != context.Canceled { //nolint:errorlint // unchanged
		t.Errorf("Do = %v, want the caller's context.Canceled", err)
	}
	if n := clk.Timers(); n != 0 {
		t.Errorf("after Do: %d timers waiting, want 0", n)
	}
}
