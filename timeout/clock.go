package timeout

import (
	"context"
	"errors"
	"time"

	"github.com/callguard/callguard"
)

// withClock returns a context that ends with cause [ErrTimeout] when clk's
// timer of d fires, and its cancel function, which stops the timer and
// waits for the goroutine that watches it. It returns a nil context when
// ctx's own deadline comes no later than d from clk.Now().
func withClock(ctx context.Context, clk callguard.Clock, d time.Duration) (context.Context, context.CancelFunc) {
	deadline := clk.Now().Add(d)
	if parent, ok := ctx.Deadline(); ok && !parent.After(deadline) {
		return nil, nil
	}
	cctx, cancel := context.WithCancelCause(ctx)
	timer := clk.NewTimer(d)
	done := make(chan struct{})
	go func() {
		defer close(done)
		select {
		case <-timer.C():
			cancel(ErrTimeout)
		case <-cctx.Done():
		}
	}()
	stop := func() {
		cancel(context.Canceled)
		timer.Stop()
		<-done
	}
	return &clockCtx{Context: cctx, deadline: deadline}, stop
}

// A clockCtx has a deadline in a Clock's time. Its Err is
// [context.DeadlineExceeded] once that deadline has passed, as a context
// made by [context.WithDeadline] says.
type clockCtx struct {
	context.Context // made by context.WithCancelCause
	deadline        time.Time
}

func (c *clockCtx) Deadline() (time.Time, bool) { return c.deadline, true }

func (c *clockCtx) Err() error {
	err := c.Context.Err()
	if errors.Is(err, context.Canceled) && errors.Is(context.Cause(c.Context), ErrTimeout) {
		return context.DeadlineExceeded
	}
	return err
}
