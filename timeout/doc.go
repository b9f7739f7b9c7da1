// Package timeout bounds how long a call may take.
//
// A [Timeout] gives each call a context with a deadline d after the call
// starts:
//
//	t := timeout.New(300 * time.Millisecond)
//	err := t.Do(ctx, func(ctx context.Context) error {
//		return callPayments(ctx)
//	})
//	if errors.Is(err, timeout.ErrTimeout) {
//		// the call took too long; errors.Is(err, context.DeadlineExceeded) too
//	}
//
// # Composition
//
// A Timeout is a [callguard.Policy]. Placed innermost, it bounds each
// attempt; placed outermost, the whole call with its retries, and then
// declared with [WithOverall] (the composition table is in the doc of
// package callguard, whose CheckClient refuses a per-attempt Timeout
// outside retry):
//
//	overall := timeout.New(5*time.Second, timeout.WithOverall())
//	attempt := timeout.New(300 * time.Millisecond)
//	callguard.Chain(overall, throttle, retry, breaker, bulkhead, attempt)
//
// Inside retry, every attempt gets its own d, and a timed-out attempt can be
// retried; inside the bulkhead, a call that honours its context holds a
// slot for about d at most.
//
// # Deadlines
//
// The context of the call is made with [context.WithTimeoutCause], with
// [ErrTimeout] as the cause, so the call sees an ordinary deadline (and
// passes it on: HTTP and gRPC clients send it downstream), and
// [context.Cause] tells our deadline from the caller's. A caller whose own
// deadline is sooner than d keeps it: no context is made, and nothing is
// allocated.
//
// # Errors
//
// When the timeout fires and the call fails, [Timeout.Do] returns
// [ErrTimeout] or a [*TimeoutError] wrapping the call's error; both match
// ErrTimeout and [context.DeadlineExceeded]. When the caller's context is
// cancelled or reaches its own deadline, its error is returned unchanged:
// the caller gave up, the callee did not fail.
//
// # Calls that ignore their context
//
// A timeout can only ask a call to stop, through its context. By default
// the call runs in the caller's goroutine, and Do returns when the call
// does, however late; no goroutine is started. [WithAbandon] runs the call
// in its own goroutine and returns at the deadline without it, at the cost
// of a goroutine per call and of goroutines left running by calls that do
// not stop.
package timeout
