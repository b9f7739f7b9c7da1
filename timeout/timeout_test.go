package timeout

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/internal/race"
)

var _ callguard.Policy = (*Timeout)(nil)

// short is the timeout of tests that let it fire. Tests assert on errors,
// never on elapsed time.
const short = 10 * time.Millisecond

func ok(context.Context) error { return nil }

// isTimeout fails unless err matches ErrTimeout, DeadlineExceeded and
// has Timeout() true.
func isTimeout(t *testing.T, err error) {
	t.Helper()
	var te interface{ Timeout() bool }
	if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) ||
		!errors.As(err, &te) || !te.Timeout() {
		t.Errorf("Do(…) = %v, want a match for ErrTimeout and DeadlineExceeded, Timeout() true", err)
	}
}

// isBare fails unless err is ErrTimeout itself, not a *TimeoutError.
func isBare(t *testing.T, err error) {
	t.Helper()
	var te *TimeoutError
	if errors.As(err, &te) || !errors.Is(err, ErrTimeout) {
		t.Errorf("Do(…) = %#v, want ErrTimeout", err)
	}
}

func TestNewPanics(t *testing.T) {
	tests := []struct {
		name      string
		give      time.Duration
		wantPanic string
	}{
		{"zero", 0, "timeout: duration must be > 0, got 0s"},
		{"negative", -time.Millisecond, "timeout: duration must be > 0, got -1ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if got := recover(); got != tt.wantPanic {
					t.Errorf("New panic = %v, want %q", got, tt.wantPanic)
				}
			}()
			New(tt.give)
		})
	}
}

func TestErrors(t *testing.T) {
	if !errors.Is(ErrTimeout, context.DeadlineExceeded) {
		t.Error("errors.Is(ErrTimeout, DeadlineExceeded) = false, want true")
	}
	// The match is one way: a plain DeadlineExceeded (the caller's own
	// deadline) is not our timeout.
	//lint:ignore SA1032 the order is the point of the test
	if errors.Is(context.DeadlineExceeded, ErrTimeout) {
		t.Error("errors.Is(DeadlineExceeded, ErrTimeout) = true, want false")
	}
	isTimeout(t, ErrTimeout)
	if got, want := ErrTimeout.Error(), "timeout: deadline exceeded"; got != want {
		t.Errorf("ErrTimeout.Error() = %q, want %q", got, want)
	}
	cause := errors.New("dial tcp: i/o timeout")
	err := error(&TimeoutError{After: short, Err: cause})
	isTimeout(t, err)
	if !errors.Is(err, cause) {
		t.Errorf("errors.Is(%v, cause) = false, want true", err)
	}
	if got, want := err.Error(), "timeout: deadline exceeded after 10ms: dial tcp: i/o timeout"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestDoSuccess(t *testing.T) {
	for _, abandon := range []bool{false, true} {
		t.Run(fmt.Sprint("abandon=", abandon), func(t *testing.T) {
			tm := newTimeout(time.Hour, abandon)
			start := time.Now()
			err := tm.Do(context.Background(), func(ctx context.Context) error {
				dl, ok := ctx.Deadline()
				if !ok || dl.Before(start) || dl.After(time.Now().Add(time.Hour)) {
					t.Errorf("call deadline = %v, %v; want about an hour from now", dl, ok)
				}
				return nil
			})
			if err != nil {
				t.Errorf("Do(…) = %v, want nil", err)
			}
		})
	}
}

func newTimeout(d time.Duration, abandon bool) *Timeout {
	if abandon {
		return New(d, WithAbandon())
	}
	return New(d)
}

func TestDoTimesOut(t *testing.T) {
	dial := errors.New("dial failed")
	tests := []struct {
		name     string
		giveFn   func(ctx context.Context) error
		wantBare bool  // ErrTimeout itself
		wantErr  error // also matched, if not nil
	}{
		{"ctx.Err", func(ctx context.Context) error { return ctx.Err() }, true, nil},
		{"cause", func(ctx context.Context) error { return context.Cause(ctx) }, true, nil},
		{"wraps ctx.Err", func(ctx context.Context) error { return fmt.Errorf("%w: %w", dial, ctx.Err()) }, false, dial},
		{"own error", func(context.Context) error { return dial }, false, dial},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := New(short).Do(context.Background(), func(ctx context.Context) error {
				<-ctx.Done()
				return tt.giveFn(ctx)
			})
			isTimeout(t, err)
			var te *TimeoutError
			if tt.wantBare {
				isBare(t, err)
			} else if !errors.As(err, &te) || te.After != short || !errors.Is(err, tt.wantErr) {
				t.Errorf("Do(…) = %v, want a *TimeoutError after %v wrapping %v", err, short, tt.wantErr)
			}
		})
	}
}

// TestDoWaitsForCall: by default Do runs the call in the caller's goroutine
// and returns only when the call does, even after the deadline.
func TestDoWaitsForCall(t *testing.T) {
	returned := false
	err := New(short).Do(context.Background(), func(ctx context.Context) error {
		<-ctx.Done()
		runtime.Gosched() // work on, ignoring the deadline
		returned = true
		return nil
	})
	if err != nil {
		t.Errorf("Do(…) = %v, want nil: a late success is a success", err)
	}
	if !returned {
		t.Error("Do returned before the call did")
	}
}

func TestDoParentDeadlineSooner(t *testing.T) {
	cause := errors.New("caller's budget spent")
	parent, cancel := context.WithTimeoutCause(context.Background(), short, cause)
	defer cancel()
	err := New(time.Hour).Do(parent, func(ctx context.Context) error {
		if ctx != parent {
			t.Error("Do made a new context under a sooner parent deadline")
		}
		<-ctx.Done()
		return context.Cause(ctx)
	})
	if !errors.Is(err, cause) || errors.Is(err, ErrTimeout) {
		t.Errorf("Do(…) = %v, want the parent's %v", err, cause)
	}
}

func TestAbandonParentDeadlineSooner(t *testing.T) {
	parent, cancel := context.WithTimeout(context.Background(), short)
	defer cancel()
	release, finished := make(chan struct{}), make(chan struct{})
	err := New(time.Hour, WithAbandon()).Do(parent, func(ctx context.Context) error {
		defer close(finished)
		if ctx != parent {
			t.Error("Do made a new context under a sooner parent deadline")
		}
		<-release // ignores ctx
		return nil
	})
	close(release)
	<-finished
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrTimeout) {
		t.Errorf("Do(…) = %v, want the parent's %v", err, context.DeadlineExceeded)
	}
}

func TestDoParentDeadlineLater(t *testing.T) {
	parent, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	err := New(short).Do(parent, func(ctx context.Context) error {
		if ctx == parent {
			t.Error("Do used the parent context, whose deadline is later")
		}
		<-ctx.Done()
		return ctx.Err()
	})
	isBare(t, err)
	if parent.Err() != nil {
		t.Errorf("parent.Err() = %v, want nil", parent.Err())
	}
}

func TestDoParentCanceled(t *testing.T) {
	for _, abandon := range []bool{false, true} {
		t.Run(fmt.Sprint("abandon=", abandon), func(t *testing.T) {
			parent, cancel := context.WithCancel(context.Background())
			release, finished := make(chan struct{}), make(chan struct{})
			err := newTimeout(time.Hour, abandon).Do(parent, func(ctx context.Context) error {
				defer close(finished)
				cancel()
				<-ctx.Done()
				if abandon {
					<-release // ignore the context: Do must not wait
				}
				return ctx.Err()
			})
			close(release)
			<-finished
			if !errors.Is(err, context.Canceled) || errors.Is(err, ErrTimeout) {
				t.Errorf("Do(…) = %v, want %v", err, context.Canceled)
			}
		})
	}
}

func TestAbandon(t *testing.T) {
	release, finished := make(chan struct{}), make(chan struct{})
	var late error
	err := New(short, WithAbandon()).Do(context.Background(), func(ctx context.Context) error {
		defer close(finished)
		<-release // ignores ctx
		late = ctx.Err()
		return errors.New("discarded")
	})
	isBare(t, err)
	select {
	case <-finished:
		t.Error("the call returned before Do did: Do waited for it")
	default:
	}
	close(release)
	<-finished // let the goroutine end, for goleak
	if !errors.Is(late, context.DeadlineExceeded) {
		t.Errorf("abandoned call's ctx.Err() = %v, want DeadlineExceeded", late)
	}
}

func TestAbandonReturnsResult(t *testing.T) {
	want := errors.New("boom")
	err := New(time.Hour, WithAbandon()).Do(context.Background(), func(context.Context) error { return want })
	if !errors.Is(err, want) || errors.Is(err, ErrTimeout) {
		t.Errorf("Do(…) = %v, want %v", err, want)
	}
}

func TestAbandonPanicReachesCaller(t *testing.T) {
	defer func() {
		if r := recover(); r != "boom" {
			t.Errorf("recover() = %v, want boom", r)
		}
	}()
	_ = New(time.Hour, WithAbandon()).Do(context.Background(), func(context.Context) error { panic("boom") })
	t.Error("Do returned after a panic in the call")
}

func TestAbandonGoexitReachesCaller(t *testing.T) {
	returned, exited := false, make(chan struct{})
	go func() {
		defer close(exited)
		_ = New(time.Hour, WithAbandon()).Do(context.Background(), func(context.Context) error {
			runtime.Goexit()
			return nil
		})
		returned = true
	}()
	<-exited
	if returned {
		t.Error("Do returned after runtime.Goexit in the call")
	}
}

func TestWrap(t *testing.T) {
	p := callguard.Chain(New(short))
	err := p.Do(context.Background(), func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	})
	isBare(t, err)
	if err := p.Do(context.Background(), ok); err != nil {
		t.Errorf("Do(…) = %v, want nil", err)
	}
}

func TestDoAllocs(t *testing.T) {
	if testing.Short() || race.Enabled {
		t.Skip("allocation guard: skipped in -short and under -race")
	}
	later, cancel := context.WithTimeout(context.Background(), 2*time.Hour)
	defer cancel()
	for _, parent := range []context.Context{context.Background(), later} {
		bare := testing.AllocsPerRun(100, func() {
			_, cancel := context.WithTimeoutCause(parent, time.Hour, ErrTimeout)
			cancel()
		})
		tm := New(time.Hour)
		if n := testing.AllocsPerRun(100, func() { _ = tm.Do(parent, ok) }); n > bare {
			t.Errorf("Do allocs = %v, want <= %v (context.WithTimeoutCause)", n, bare)
		}
		p := callguard.Chain(tm)
		if n := testing.AllocsPerRun(100, func() { _ = p.Do(parent, ok) }); n > bare {
			t.Errorf("Chain(t).Do allocs = %v, want <= %v (context.WithTimeoutCause)", n, bare)
		}
	}
	tm := New(3 * time.Hour) // later's deadline is sooner: no new context
	if n := testing.AllocsPerRun(100, func() { _ = tm.Do(later, ok) }); n != 0 {
		t.Errorf("Do allocs under a sooner parent deadline = %v, want 0", n)
	}
}

// TestAbandonPanicAfterReturn: a panic of a call that Do abandoned has
// nobody to reach. It must not crash the program: it is logged.
func TestAbandonPanicAfterReturn(t *testing.T) {
	errBoom := errors.New("boom")
	logged := make(chan any, 1)
	defer func(f func(any, []byte)) { logPanic = f }(logPanic)
	logPanic = func(v any, stack []byte) {
		if !bytes.Contains(stack, []byte("TestAbandonPanicAfterReturn")) {
			t.Errorf("stack = %s, want the panic's", stack)
		}
		logged <- v
	}
	returned := make(chan struct{})
	err := New(time.Millisecond, WithAbandon()).Do(context.Background(), func(ctx context.Context) error {
		<-returned
		panic(errBoom)
	})
	isTimeout(t, err)
	close(returned)
	if v := <-logged; v != errBoom {
		t.Errorf("logged panic %v, want %v", v, errBoom)
	}
}
