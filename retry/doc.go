// Package retry calls a function again when it fails, with exponential
// backoff and full jitter, and bounds the extra load that retries put on a
// failing service with a shared [Budget].
//
//	budget := retry.NewBudget()                 // one per process
//	r := retry.New(retry.WithBudget(budget))    // 3 attempts, 50ms..1s full jitter
//	err := r.Do(ctx, func(ctx context.Context) error { return call(ctx) })
//
// A [Retry] is a [callguard.Policy]. In a pipeline, place it outside the
// breaker and the per-attempt timeout, so that each attempt gets its own
// timeout and a call rejected by an open breaker is not retried:
//
//	callguard.Chain(retry.New(), breaker.New(), bulkhead.New(64), timeout.New(300*time.Millisecond))
//
// # What is retried
//
// Do retries an error unless one of these holds, in this order:
//
//   - the caller's context is done (ctx.Err() != nil). A per-attempt
//     timeout from an inner policy, while ctx itself is alive, is retried;
//   - the error is permanent ([callguard.IsPermanent]);
//   - the error is overloaded without a pushback delay
//     ([callguard.Pushback] returns ok with delay 0): the callee, or a local
//     policy (breaker.ErrOpen, bulkhead.ErrFull), said "do not retry";
//   - the classifier set by [WithRetryIf] returns false.
//
// Such an error is returned as it is, not wrapped. An overloaded error with
// a delay is retried after at least that delay, capped by [WithMaxPushback].
//
// # Backoff
//
// The wait after the k-th failed attempt is uniform in
// [0, min(max, base·2^(k-1))]: "full jitter", which spreads the retries of
// many clients best (AWS Architecture Blog, "Exponential Backoff And
// Jitter"). The ceiling comes from a backoff.ExponentialBackOff of
// github.com/cenkalti/backoff/v4 without randomization, created per call and
// only after a failure, so the success path allocates nothing. Each wait
// uses one timer, stopped when the wait ends, and ends early when ctx is
// done.
//
// # Giving up
//
// When Do stops retrying an error that is still retryable, it returns an
// [*ExhaustedError] that says why ([StopReason]) and wraps the last error:
// errors.Is(err, [ErrExhausted]) and errors.Is(err, lastErr) both hold. Do
// gives up when the attempts are used, when the next attempt would start
// after [WithMaxElapsedTime], when the [Budget] is empty, or when ctx's
// deadline would pass before the next attempt starts (waiting for it would
// only delay the failure). When ctx ends during a wait, Do returns at once
// with an error that matches both ctx.Err() and the last error.
//
// # Budget
//
// Retries multiply load exactly when a service can least take it: three
// layers that each make three attempts turn one failing call into 3³ = 27. A
// [Budget] shared by the clients of a process lets retries add at most a
// ratio of the calls (10% by default) plus a small minimum rate (10 per
// second), as the Google SRE book recommends and Finagle and gRPC (gRFC A6)
// implement.
package retry
