package timeout

import (
	"context"
	"errors"
	"fmt"
	"log"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/callguard/callguard"
)

// A Timeout bounds how long one call may take. It is safe for concurrent
// use. The zero value is not usable; create one with [New].
type Timeout struct {
	d       time.Duration
	abandon bool
	overall bool            // declared outside retry: see CallguardRole
	clock   callguard.Clock // nil: the system clock
}

var _ callguard.Policy = (*Timeout)(nil)

// New returns a Timeout that gives each call at most d.
//
// It panics with "timeout: duration must be > 0, got …" if d <= 0.
func New(d time.Duration, opts ...Option) *Timeout {
	if d <= 0 {
		panic(fmt.Sprintf("timeout: duration must be > 0, got %v", d))
	}
	var o options
	for _, opt := range opts {
		opt.apply(&o)
	}
	if o.clock == callguard.SystemClock {
		o.clock = nil // the fast path: context.WithTimeoutCause
	}
	return &Timeout{d: d, abandon: o.abandon, overall: o.overall, clock: o.clock}
}

// Do calls fn with a context that is done d after the call starts, and
// returns what fn returns, except when the timeout fired and fn failed:
// then Do returns [ErrTimeout] if fn returned ctx.Err()
// ([context.DeadlineExceeded]), fn's error itself if it already matches
// ErrTimeout, and otherwise a [*TimeoutError] that wraps fn's error. All
// three match ErrTimeout and DeadlineExceeded. A call that succeeds after
// the deadline returns nil.
//
// If ctx's own deadline comes no later than d from now, Do creates no
// context: it calls fn(ctx), and returns fn's result unchanged. Errors of
// the caller's context (its cancellation, its deadline) are never turned
// into ErrTimeout.
//
// # Calls that ignore their context
//
// By default Do runs fn in the caller's goroutine: it starts no goroutine,
// and so it cannot return before fn does. A call that ignores its context
// holds the caller past the deadline, until it returns. With [WithAbandon],
// Do runs fn in a new goroutine and returns at the deadline without it; a
// panic of fn after that is recovered and logged, not raised.
func (t *Timeout) Do(ctx context.Context, fn func(context.Context) error) error {
	return t.run(ctx, fn, callguard.Invoke)
}

// Wrap returns a handler that runs next under the timeout, as [Timeout.Do]
// runs fn.
func (t *Timeout) Wrap(next callguard.Handler) callguard.Handler {
	return func(ctx context.Context, call func(context.Context) error) error {
		return t.run(ctx, call, next)
	}
}

func (t *Timeout) run(ctx context.Context, call func(context.Context) error, next callguard.Handler) error {
	var tctx context.Context
	var cancel context.CancelFunc
	if t.clock != nil {
		if tctx, cancel = withClock(ctx, t.clock, t.d); tctx == nil {
			return t.call(ctx, call, next)
		}
	} else if parent, ok := ctx.Deadline(); ok {
		deadline := time.Now().Add(t.d)
		if !parent.After(deadline) {
			return t.call(ctx, call, next)
		}
		tctx, cancel = context.WithDeadlineCause(ctx, deadline, ErrTimeout)
	} else {
		tctx, cancel = context.WithTimeoutCause(ctx, t.d, ErrTimeout)
	}
	defer cancel()
	err := t.call(tctx, call, next)
	if err == nil || !errors.Is(context.Cause(tctx), ErrTimeout) {
		return err // success, or not our deadline: the parent's doing
	}
	if err == context.DeadlineExceeded { //nolint:errorlint // only the bare ctx.Err(), not wrapping errors
		return ErrTimeout // nothing to add
	}
	if errors.Is(err, ErrTimeout) {
		return err // already says so: context.Cause(ctx), an inner Timeout
	}
	return &TimeoutError{After: t.d, Err: err}
}

// call runs next(ctx, call) in this goroutine, or in a new one that Do
// abandons when ctx is done.
func (t *Timeout) call(ctx context.Context, call func(context.Context) error, next callguard.Handler) error {
	if !t.abandon {
		return next(ctx, call)
	}
	c := &detached{done: make(chan struct{})}
	go c.run(ctx, call, next)
	select {
	case <-c.done:
	case <-ctx.Done():
		if c.state.CompareAndSwap(running, abandoned) {
			return ctx.Err() // run makes it ErrTimeout when the deadline is ours
		}
		<-c.done // it finished as the deadline came: use its result
	}
	return c.result()
}

// States of a detached call. Whichever of the call's goroutine (finished)
// and the caller of Do (abandoned) moves the state off running first
// decides who handles the outcome.
const (
	running int32 = iota
	finished
	abandoned
)

// A detached call runs in its own goroutine for WithAbandon.
type detached struct {
	state    atomic.Int32
	done     chan struct{} // closed when finished
	err      error
	returned bool // the call returned (did not panic or call runtime.Goexit)
	panicked any
}

func (c *detached) run(ctx context.Context, call func(context.Context) error, next callguard.Handler) {
	defer func() {
		if !c.returned {
			c.panicked = recover()
		}
		if c.state.CompareAndSwap(running, finished) {
			close(c.done)
			return
		}
		if c.panicked != nil {
			logPanic(c.panicked, debug.Stack()) // nobody waits: one call must not take the program down
		}
	}()
	c.err = next(ctx, call)
	c.returned = true
}

// logPanic reports the panic v of a call that nobody waits for any more,
// with its stack, as net/http logs a handler's panic. Tests replace it.
var logPanic = func(v any, stack []byte) {
	log.Printf("timeout: panic in an abandoned call: %v\n%s", v, stack)
}

// result returns the call's error, or raises its panic or Goexit in the
// caller's goroutine.
func (c *detached) result() error {
	switch {
	case c.returned:
		return c.err
	case c.panicked != nil:
		panic(c.panicked)
	default:
		runtime.Goexit()
		return nil
	}
}
