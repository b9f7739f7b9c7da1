package retry

import (
	"context"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/callguard/callguard"
)

// A Retry calls a function again when it fails with a retryable error,
// waiting an exponentially growing, fully jittered delay between attempts.
// It is safe for concurrent use. Create it with [New]; the zero value is not
// ready for use.
type Retry struct {
	options
}

// New returns a Retry configured by opts. Without options it makes at most 3
// attempts, waits a backoff with full jitter (base 50ms, cap 1s) between
// them, honours pushback delays up to 10s and uses no budget.
//
// New panics, with a message that starts with "retry: ", if an option is
// invalid: max attempts < 1, a negative backoff base, a backoff max below
// the base, a negative max elapsed time or max pushback.
func New(opts ...Option) *Retry {
	o := defaultOptions()
	for _, opt := range opts {
		opt.apply(&o)
	}
	switch {
	case o.maxAttempts < 1:
		panic("retry: max attempts must be >= 1, got " + strconv.Itoa(o.maxAttempts))
	case o.base < 0:
		panic("retry: backoff base must be >= 0, got " + o.base.String())
	case o.maxDelay < o.base:
		panic("retry: backoff max must be >= base " + o.base.String() + ", got " + o.maxDelay.String())
	case o.maxElapsed < 0:
		panic("retry: max elapsed time must be >= 0, got " + o.maxElapsed.String())
	case o.maxPushback < 0:
		panic("retry: max pushback must be >= 0, got " + o.maxPushback.String())
	}
	return &Retry{options: o}
}

// Do calls fn until it succeeds, fails with an error that is not retried,
// or Do gives up. It returns:
//
//   - nil when an attempt succeeded;
//   - ctx.Err(), without calling fn, when ctx is done before the first attempt;
//   - the attempt's error unchanged, not wrapped, when it is not retried: a
//     [callguard.IsPermanent] error, an overloaded error without a pushback
//     delay (which includes local rejections such as breaker.ErrOpen), an
//     error the [WithRetryIf] classifier refuses, or any error returned after
//     ctx is done;
//   - an [*ExhaustedError] wrapping the last error when the attempts, the
//     max elapsed time, the budget or ctx's deadline stop a retry;
//   - when ctx ends while Do waits to retry, an error that matches both
//     ctx.Err() (and [context.Cause]) and the last attempt's error. fn is
//     never called once ctx is done.
//
// The wait after the k-th failure is drawn from [0, min(max, base·2^(k-1))];
// for an overloaded error with a pushback delay it is at least that delay,
// capped by [WithMaxPushback]. Each retry runs with a context that carries
// its attempt number ([callguard.Attempt]: 2 for the first retry), which
// the adapters send to the server; the first attempt runs with ctx itself.
// A call that succeeds at once allocates nothing.
func (r *Retry) Do(ctx context.Context, fn func(context.Context) error) error {
	return r.run(ctx, callguard.Invoke, fn)
}

// Wrap returns a handler that runs next under the retry policy, as [Retry.Do]
// runs fn. It makes Retry a [callguard.Policy].
func (r *Retry) Wrap(next callguard.Handler) callguard.Handler {
	return func(ctx context.Context, call func(context.Context) error) error {
		return r.run(ctx, next, call)
	}
}

// run makes the first attempt. It is the whole success path: no backoff, no
// timer, no allocation.
func (r *Retry) run(ctx context.Context, next callguard.Handler, call func(context.Context) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if r.budget != nil {
		r.budget.deposit()
	}
	var start time.Time
	if r.maxElapsed > 0 {
		start = r.clock.Now()
	}
	err := next(ctx, call)
	if err == nil {
		return nil
	}
	return r.retry(ctx, next, call, err, start)
}

// retry runs the attempts after the first failed one. start is when the
// first attempt began (zero without a max elapsed time).
func (r *Retry) retry(ctx context.Context, next callguard.Handler, call func(context.Context) error, err error, start time.Time) error {
	var bo backoff.ExponentialBackOff // set up at the first retry; not shared
	maxAttempts := r.maxAttempts
	if n, ok := ctx.Value(attemptsKey{}).(int); ok {
		maxAttempts = n
	}
	for attempt := 1; ; attempt++ {
		pushback, ok := r.retryable(ctx, err)
		if !ok {
			return err
		}
		if attempt >= maxAttempts {
			return &ExhaustedError{Attempts: attempt, Reason: StopMaxAttempts, Err: err}
		}
		if attempt == 1 {
			r.initBackOff(&bo)
		}
		delay := r.jitter(bo.NextBackOff())
		delay = max(delay, min(pushback, r.maxPushback))
		if reason := r.stop(ctx, start, delay); reason != 0 {
			return &ExhaustedError{Attempts: attempt, Reason: reason, Err: err}
		}
		if r.onRetry != nil {
			r.onRetry(ctx, attempt, err, delay)
		}
		if r.wait(ctx, delay) != nil {
			return interrupted(ctx, attempt, err)
		}
		// The retry's context carries its number (callguard.Attempt), which
		// the adapters send; the first attempt's is ctx itself.
		if err = next(callguard.ContextWithAttempt(ctx, attempt+1), call); err == nil {
			return nil
		}
	}
}

// retryable reports whether err may be retried and, for an overloaded error
// with a pushback, the delay the callee asked for.
func (r *Retry) retryable(ctx context.Context, err error) (pushback time.Duration, ok bool) {
	if ctx.Err() != nil || !callguard.Retryable(err) {
		return 0, false
	}
	pushback, _ = callguard.Pushback(err)
	if r.retryIf != nil && !r.retryIf(err) {
		return 0, false
	}
	return pushback, true
}

// initBackOff sets bo up as an exponential backoff without randomization:
// NextBackOff returns the ceiling min(max, base·2^(k-1)) that the full
// jitter draws under. bo never stops by itself: the max elapsed time is
// checked by stop, from the first attempt and with the jittered delay.
func (r *Retry) initBackOff(bo *backoff.ExponentialBackOff) {
	bo.InitialInterval = r.base
	bo.RandomizationFactor = 0
	bo.Multiplier = 2
	bo.MaxInterval = r.maxDelay
	bo.MaxElapsedTime = 0
	bo.Stop = backoff.Stop
	bo.Clock = r.clock
	bo.Reset()
}

// stop returns why a retry after delay must not happen, or 0. The budget is
// asked last, so that no token is spent on a retry that will not run.
func (r *Retry) stop(ctx context.Context, start time.Time, delay time.Duration) StopReason {
	if r.maxElapsed > 0 && r.clock.Now().Sub(start)+delay > r.maxElapsed {
		return StopMaxElapsed
	}
	// A deadline is read on the clock that times the waits: a fake clock's
	// deadlines come from a timeout on the same clock (timeout.WithClock).
	if deadline, ok := ctx.Deadline(); ok && deadline.Sub(r.clock.Now()) <= delay {
		return StopDeadline
	}
	if r.budget != nil && !r.budget.withdraw() {
		return StopBudget
	}
	return 0
}

// wait waits for d or until ctx is done, and returns ctx.Err(): nil means
// the next attempt may run.
func (r *Retry) wait(ctx context.Context, d time.Duration) error {
	if d > 0 {
		t := r.clock.NewTimer(d)
		select {
		case <-t.C():
		case <-ctx.Done():
		}
		t.Stop()
	}
	return ctx.Err()
}

// fullJitter returns a uniform random duration in [0, ceiling].
func fullJitter(ceiling time.Duration) time.Duration {
	if ceiling <= 0 {
		return 0
	}
	return time.Duration(rand.Uint64N(uint64(ceiling) + 1))
}

type attemptsKey struct{}

// ContextWithMaxAttempts returns a copy of ctx under which a Retry makes at
// most n attempts, whatever its own [WithMaxAttempts] says: a per-call
// override, for example n = 1 for a call that must not be repeated. The
// adapters pass it through: an HTTP request's context, a gRPC call's
// context. It is read only after a failed attempt, so the success path does
// not pay for it. It panics if n < 1.
func ContextWithMaxAttempts(ctx context.Context, n int) context.Context {
	if n < 1 {
		panic("retry: max attempts must be >= 1, got " + strconv.Itoa(n))
	}
	return context.WithValue(ctx, attemptsKey{}, n)
}
