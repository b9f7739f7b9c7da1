package retry

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/callguardtest"
	"github.com/callguard/callguard/internal/race"
)

var _ callguard.Policy = (*Retry)(nil)

var errBoom = errors.New("boom")

// failing returns a function that fails fails times with err, then
// succeeds, and the counter of its calls. fails < 0 means it always fails.
func failing(fails int, err error) (func(context.Context) error, *atomic.Int32) {
	var calls atomic.Int32
	return func(context.Context) error {
		if n := calls.Add(1); fails < 0 || int(n) <= fails {
			return err
		}
		return nil
	}, &calls
}

func TestDoAttempts(t *testing.T) {
	tests := []struct {
		name      string
		giveOpts  []Option
		giveFails int
		wantCalls int32
		wantErr   bool
	}{
		{name: "success", giveFails: 0, wantCalls: 1},
		{name: "fails once", giveFails: 1, wantCalls: 2},
		{name: "fails twice", giveFails: 2, wantCalls: 3},
		{name: "always fails", giveFails: -1, wantCalls: 3, wantErr: true},
		{name: "one attempt", giveOpts: []Option{WithMaxAttempts(1)}, giveFails: -1, wantCalls: 1, wantErr: true},
		{name: "five attempts", giveOpts: []Option{WithMaxAttempts(5)}, giveFails: -1, wantCalls: 5, wantErr: true},
		{name: "five attempts, fails four times", giveOpts: []Option{WithMaxAttempts(5)}, giveFails: 4, wantCalls: 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := New(append([]Option{WithBackoff(0, 0)}, tt.giveOpts...)...)
			fn, calls := failing(tt.giveFails, errBoom)
			err := r.Do(context.Background(), fn)
			if got := calls.Load(); got != tt.wantCalls {
				t.Errorf("calls = %d, want %d", got, tt.wantCalls)
			}
			if !tt.wantErr {
				if err != nil {
					t.Errorf("Do(…) = %v, want nil", err)
				}
				return
			}
			var ee *ExhaustedError
			if !errors.As(err, &ee) || ee.Attempts != int(tt.wantCalls) || ee.Reason != StopMaxAttempts {
				t.Errorf("Do(…) = %v, want an ExhaustedError after %d attempts", err, tt.wantCalls)
			}
		})
	}
}

func TestDoNotRetried(t *testing.T) {
	permanent := callguard.Permanent(errBoom)
	overloaded := callguard.Overloaded(0, errBoom)
	negative := callguard.Overloaded(-time.Second, errBoom)
	rejected := callguard.NewRejection("bulkhead: full")
	errBad := errors.New("bad")
	tests := []struct {
		name     string
		giveOpts []Option
		giveErr  func(cancel context.CancelFunc) error
		wantErr  error
	}{
		{name: "permanent", giveErr: func(context.CancelFunc) error { return permanent }, wantErr: permanent},
		{name: "overloaded without delay", giveErr: func(context.CancelFunc) error { return overloaded }, wantErr: overloaded},
		{name: "overloaded with negative delay", giveErr: func(context.CancelFunc) error { return negative }, wantErr: negative},
		{name: "local rejection", giveErr: func(context.CancelFunc) error { return rejected }, wantErr: rejected},
		{
			name:     "classifier refuses",
			giveOpts: []Option{WithRetryIf(func(err error) bool { return !errors.Is(err, errBad) })},
			giveErr:  func(context.CancelFunc) error { return errBad },
			wantErr:  errBad,
		},
		{
			name:    "caller cancelled",
			giveErr: func(cancel context.CancelFunc) error { cancel(); return context.Canceled },
			wantErr: context.Canceled,
		},
		{
			name:    "caller cancelled, other error",
			giveErr: func(cancel context.CancelFunc) error { cancel(); return errBoom },
			wantErr: errBoom,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			r := New(append([]Option{WithBackoff(0, 0), WithMaxAttempts(5)}, tt.giveOpts...)...)
			calls := 0
			err := r.Do(ctx, func(context.Context) error {
				calls++
				return tt.giveErr(cancel)
			})
			if err != tt.wantErr {
				t.Errorf("Do(…) = %v, want %v unchanged", err, tt.wantErr)
			}
			if calls != 1 {
				t.Errorf("calls = %d, want 1", calls)
			}
		})
	}
}

func TestDoRetriesAttemptTimeout(t *testing.T) {
	// An inner per-attempt timeout while the caller's ctx is alive is retried.
	r := New(WithBackoff(0, 0))
	fn, calls := failing(-1, context.DeadlineExceeded)
	err := r.Do(context.Background(), fn)
	if !errors.Is(err, ErrExhausted) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Do(…) = %v, want ErrExhausted and DeadlineExceeded", err)
	}
	if got := calls.Load(); got != 3 {
		t.Errorf("calls = %d, want 3", got)
	}
}

func TestDoClassifierSeesOverloadedWithDelay(t *testing.T) {
	var seen error
	r := New(WithBackoff(0, 0), WithRetryIf(func(err error) bool { seen = err; return false }))
	give := callguard.Overloaded(time.Second, errBoom)
	if err := r.Do(context.Background(), func(context.Context) error { return give }); err != give {
		t.Errorf("Do(…) = %v, want %v", err, give)
	}
	if seen != give {
		t.Errorf("classifier saw %v, want %v", seen, give)
	}
}

func TestDoDeadlineTooClose(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	retries := 0
	r := New(WithMaxPushback(3*time.Hour), OnRetry(func(context.Context, int, error, time.Duration) { retries++ }))
	give := callguard.Overloaded(2*time.Hour, errBoom)
	err := r.Do(ctx, func(context.Context) error { return give })
	var ee *ExhaustedError
	if !errors.As(err, &ee) || ee.Attempts != 1 || ee.Reason != StopDeadline || !errors.Is(err, give) {
		t.Errorf("Do(…) = %v, want ExhaustedError{Attempts: 1, Reason: StopDeadline}", err)
	}
	if retries != 0 {
		t.Errorf("retries = %d, want 0", retries)
	}
}

func TestDoContextDoneBeforeFirstAttempt(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	fn, calls := failing(0, nil)
	if err := New().Do(ctx, fn); err != context.Canceled {
		t.Errorf("Do(…) = %v, want %v", err, context.Canceled)
	}
	if calls.Load() != 0 {
		t.Errorf("calls = %d, want 0", calls.Load())
	}
}

func TestDoContextDoneWhileWaiting(t *testing.T) {
	clk := callguardtest.NewClock()
	waiting := make(chan struct{})
	r := New(WithClock(clk), OnRetry(func(context.Context, int, error, time.Duration) { close(waiting) }))
	errCause := errors.New("caller gone")
	ctx, cancel := context.WithCancelCause(context.Background())
	fn, calls := failing(-1, errBoom)
	done := make(chan error, 1)
	go func() { done <- r.Do(ctx, fn) }()
	<-waiting
	clk.BlockUntil(1)
	cancel(errCause)
	err := <-done
	for _, want := range []error{context.Canceled, errCause, errBoom} {
		if !errors.Is(err, want) {
			t.Errorf("Do(…) = %v, want it to match %v", err, want)
		}
	}
	if errors.Is(err, ErrExhausted) {
		t.Errorf("Do(…) = %v, want no ErrExhausted", err)
	}
	if calls.Load() != 1 || clk.Timers() != 0 {
		t.Errorf("calls = %d, timers = %d; want 1, 0", calls.Load(), clk.Timers())
	}
}

func TestDoNotRunAfterContextDone(t *testing.T) {
	// The hook cancels ctx just before a wait of zero: the wait ends at once
	// and the next attempt must not run.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := New(WithBackoff(0, 0), OnRetry(func(context.Context, int, error, time.Duration) { cancel() }))
	fn, calls := failing(-1, errBoom)
	err := r.Do(ctx, fn)
	if !errors.Is(err, context.Canceled) || !errors.Is(err, errBoom) {
		t.Errorf("Do(…) = %v, want Canceled and %v", err, errBoom)
	}
	if calls.Load() != 1 {
		t.Errorf("calls = %d, want 1", calls.Load())
	}
}

func TestExhaustedError(t *testing.T) {
	r := New(WithBackoff(0, 0))
	fn, _ := failing(-1, errBoom)
	err := r.Do(context.Background(), fn)
	var ee *ExhaustedError
	if !errors.As(err, &ee) || !errors.Is(err, ErrExhausted) || !errors.Is(err, errBoom) {
		t.Fatalf("Do(…) = %v, want ExhaustedError matching ErrExhausted and %v", err, errBoom)
	}
	if ee.Attempts != 3 || ee.Reason != StopMaxAttempts || ee.Err != errBoom {
		t.Errorf("ExhaustedError = %+v, want {3 StopMaxAttempts boom}", *ee)
	}
	if got, want := err.Error(), "retry: exhausted after 3 attempts (max attempts reached): boom"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	tests := []struct {
		give StopReason
		want string
	}{
		{StopMaxAttempts, "max attempts reached"},
		{StopMaxElapsed, "max elapsed time reached"},
		{StopBudget, "retry budget empty"},
		{StopDeadline, "deadline too close"},
		{0, "StopReason(0)"},
	}
	for _, tt := range tests {
		if got := tt.give.String(); got != tt.want {
			t.Errorf("StopReason(%d).String() = %q, want %q", tt.give, got, tt.want)
		}
	}
}

func TestWrap(t *testing.T) {
	r := New(WithBackoff(0, 0))
	var nexts int
	h := r.Wrap(func(ctx context.Context, call func(context.Context) error) error {
		nexts++
		return call(ctx)
	})
	fn, calls := failing(2, errBoom)
	if err := h(context.Background(), fn); err != nil {
		t.Errorf("Wrap(…)(…) = %v, want nil", err)
	}
	if nexts != 3 || calls.Load() != 3 {
		t.Errorf("next ran %d times, fn %d; want 3, 3", nexts, calls.Load())
	}
	fn, calls = failing(1, errBoom)
	if err := callguard.Chain(r).Do(context.Background(), fn); err != nil || calls.Load() != 2 {
		t.Errorf("Chain(r).Do(…) = %v after %d calls, want nil after 2", err, calls.Load())
	}
}

func TestNewPanics(t *testing.T) {
	tests := []struct {
		name string
		give Option
		want string
	}{
		{"max attempts", WithMaxAttempts(0), "retry: max attempts must be >= 1, got 0"},
		{"negative base", WithBackoff(-time.Second, time.Second), "retry: backoff base must be >= 0, got -1s"},
		{"max below base", WithBackoff(time.Second, time.Millisecond), "retry: backoff max must be >= base 1s, got 1ms"},
		{"max elapsed", WithMaxElapsedTime(-1), "retry: max elapsed time must be >= 0, got -1ns"},
		{"max pushback", WithMaxPushback(-1), "retry: max pushback must be >= 0, got -1ns"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if got := recover(); got != tt.want {
					t.Errorf("New panicked with %v, want %q", got, tt.want)
				}
			}()
			New(tt.give)
		})
	}
}

func TestDoAllocs(t *testing.T) {
	if testing.Short() || race.Enabled {
		t.Skip("allocation counts are not stable under -short or -race")
	}
	ctx := context.Background()
	ok := func(context.Context) error { return nil }
	tests := []struct {
		name string
		give *Retry
	}{
		{"default", New()},
		{"budget", New(WithBudget(NewBudget()))},
		{"budget not full", New(WithBudget(NewBudget(WithMaxTokens(1e6), WithMinPerSecond(0))))},
		{"max elapsed", New(WithMaxElapsedTime(time.Second))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.give.budget != nil && tt.give.budget.capacity > 100*unit {
				tt.give.budget.balance.Store(0) // deposits take the CAS path
			}
			if n := testing.AllocsPerRun(100, func() { _ = tt.give.Do(ctx, ok) }); n != 0 {
				t.Errorf("Do allocs = %v, want 0", n)
			}
			h := tt.give.Wrap(callguard.Invoke)
			if n := testing.AllocsPerRun(100, func() { _ = h(ctx, ok) }); n != 0 {
				t.Errorf("Wrap(…)(…) allocs = %v, want 0", n)
			}
		})
	}
}

func TestContextWithMaxAttempts(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name string
		ctx  context.Context
		want int
	}{
		{"policy default", context.Background(), 3},
		{"override down", ContextWithMaxAttempts(context.Background(), 1), 1},
		{"override up", ContextWithMaxAttempts(context.Background(), 5), 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			r := New(WithMaxAttempts(3), WithBackoff(0, 0))
			_ = r.Do(tt.ctx, func(context.Context) error { calls++; return boom })
			if calls != tt.want {
				t.Errorf("attempts = %d, want %d", calls, tt.want)
			}
		})
	}
}

func TestNoRetryNotRetried(t *testing.T) {
	calls := 0
	r := New(WithBackoff(0, 0))
	err := r.Do(context.Background(), func(context.Context) error {
		calls++
		return callguard.NoRetry(errors.New("500 on POST"))
	})
	if calls != 1 || errors.Is(err, ErrExhausted) {
		t.Errorf("Do = %v after %d calls, want the NoRetry error after 1", err, calls)
	}
}

// TestOnRetryContext checks that the hook gets the call's context, so that
// an event can be logged with the request id of the call.
func TestOnRetryContext(t *testing.T) {
	ctx := callguard.ContextWithRequestID(context.Background(), "req-7")
	var ids []string
	r := New(WithBackoff(0, 0), OnRetry(func(ctx context.Context, attempt int, _ error, _ time.Duration) {
		ids = append(ids, fmt.Sprintf("%d:%s", attempt, callguard.RequestIDFromContext(ctx)))
	}))
	fn, _ := failing(-1, errBoom)
	if err := r.Do(ctx, fn); !errors.Is(err, ErrExhausted) {
		t.Fatalf("Do(…) = %v, want ErrExhausted", err)
	}
	if got, want := fmt.Sprint(ids), "[1:req-7 2:req-7]"; got != want {
		t.Errorf("hook saw %s, want %s", got, want)
	}
}
