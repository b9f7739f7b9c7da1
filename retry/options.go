package retry

import (
	"context"
	"time"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/internal/clock"
)

// Defaults of [New] and [NewBudget]. Sources: docs/design.md; the backoff values
// follow AWS's "Exponential Backoff And Jitter" (full jitter), the budget
// values the Google SRE book ("Handling Overload": retries at most 10% of
// requests) and Finagle's RetryBudget (10 retries per second minimum).
const (
	DefaultMaxAttempts  = 3                     // attempts per call, the first included
	DefaultBackoffBase  = 50 * time.Millisecond // ceiling of the first wait
	DefaultBackoffMax   = time.Second           // cap of the wait ceiling
	DefaultMaxPushback  = 10 * time.Second      // longest pushback waited for
	DefaultRatio        = 0.1                   // retries earned per call
	DefaultMinPerSecond = 10.0                  // retries per second always allowed
)

// An Option configures a [Retry].
type Option interface{ apply(*options) }

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

type options struct {
	maxAttempts int
	base        time.Duration // first backoff ceiling
	maxDelay    time.Duration // cap of the backoff ceiling
	maxElapsed  time.Duration // 0: no limit
	maxPushback time.Duration
	retryIf     func(error) bool // nil: retry every error not ruled out
	budget      *Budget          // nil: no budget
	onRetry     func(ctx context.Context, attempt int, err error, delay time.Duration)
	clock       clock.Clock
	jitter      func(ceiling time.Duration) time.Duration // in [0, ceiling]
}

func defaultOptions() options {
	return options{
		maxAttempts: DefaultMaxAttempts,
		base:        DefaultBackoffBase,
		maxDelay:    DefaultBackoffMax,
		maxPushback: DefaultMaxPushback,
		clock:       clock.Real,
		jitter:      fullJitter,
	}
}

// WithMaxAttempts sets how many times Do calls fn at most, the first call
// included. The default is 3; 1 means no retry. [New] panics if n < 1.
func WithMaxAttempts(n int) Option {
	return optionFunc(func(o *options) { o.maxAttempts = n })
}

// WithBackoff sets the exponential backoff between attempts. The wait after
// the k-th failed attempt is drawn uniformly from [0, min(max, base·2^(k-1))]
// ("full jitter"). The defaults are base 50ms and max 1s. A zero base
// retries at once, without waiting, whatever max is. [New] panics if
// base < 0 or max < base.
func WithBackoff(base, max time.Duration) Option {
	return optionFunc(func(o *options) { o.base, o.maxDelay = base, max })
}

// WithMaxElapsedTime bounds the time a call may spend in Do: no retry is
// started, and no wait begun, that would start later than d after the first
// attempt began. The default, zero, means no limit. [New] panics if d < 0.
//
// When d > 0, Do reads the clock once before the first attempt.
func WithMaxElapsedTime(d time.Duration) Option {
	return optionFunc(func(o *options) { o.maxElapsed = d })
}

// WithMaxPushback caps how long Do waits for an overloaded error that asks
// for a delay (a [callguard.OverloadedError] with Delay > 0, from
// Retry-After or gRPC pushback). Such an error is retried after
// max(backoff, min(delay, d)): a pushback longer than d is not waited for
// beyond d. The default is 10s. Zero means pushback delays are ignored and
// the ordinary backoff applies. [New] panics if d < 0.
func WithMaxPushback(d time.Duration) Option {
	return optionFunc(func(o *options) { o.maxPushback = d })
}

// WithRetryIf sets a classifier that decides whether an error is worth a
// retry. It is consulted only for errors that are retryable at all: nil,
// permanent errors, overloaded errors without a delay and errors after the
// caller's context is done are never retried, whatever f says. The default,
// and f == nil, retries every other error. f must be safe for concurrent use.
func WithRetryIf(f func(error) bool) Option {
	return optionFunc(func(o *options) { o.retryIf = f })
}

// WithBudget makes every retry take a token from b, and every call give b
// its share: when b is empty, Do stops retrying and returns an
// [ExhaustedError] with Reason [StopBudget]. One Budget is meant to be shared
// by the Retry policies of a process (or of one downstream service). The
// default, and b == nil, is no budget.
func WithBudget(b *Budget) Option {
	return optionFunc(func(o *options) { o.budget = b })
}

// OnRetry sets a hook that Do calls before each wait for a retry: ctx is
// the call's context (with its request id, see
// [callguard.RequestIDFromContext], so that a log line of the retry joins
// the others of the request), attempt the number of the attempt that just
// failed (1 for the first), err its error and delay the wait before the
// next attempt. It runs on the calling goroutine, so it must be quick. The
// default, and f == nil, is no hook.
func OnRetry(f func(ctx context.Context, attempt int, err error, delay time.Duration)) Option {
	return optionFunc(func(o *options) { o.onRetry = f })
}

// WithClock sets the clock that times the waits between attempts and
// [WithMaxElapsedTime] for a [Retry], and that refills a [Budget]: it is
// both an [Option] and a [BudgetOption]. A test passes a fake clock
// (package callguardtest) and advances it instead of sleeping. The default,
// and nil, is [callguard.SystemClock]. Do compares the call's context
// deadline with this clock's time too, as timeout.WithClock sets it.
func WithClock(c callguard.Clock) ClockOption {
	if c == nil {
		c = callguard.SystemClock
	}
	return ClockOption{c}
}

// A ClockOption sets the clock of a [Retry] or a [Budget]; see [WithClock].
type ClockOption struct{ c callguard.Clock }

func (o ClockOption) apply(opts *options)             { opts.clock = o.c }
func (o ClockOption) applyBudget(opts *budgetOptions) { opts.clock = o.c }

// withJitter replaces the random draw in [0, ceiling]. For tests.
func withJitter(f func(ceiling time.Duration) time.Duration) Option {
	return optionFunc(func(o *options) { o.jitter = f })
}

// A BudgetOption configures a [Budget].
type BudgetOption interface{ applyBudget(*budgetOptions) }

type budgetOptionFunc func(*budgetOptions)

func (f budgetOptionFunc) applyBudget(o *budgetOptions) { f(o) }

type budgetOptions struct {
	ratio        float64
	minPerSecond float64
	maxTokens    float64 // 0: derived from minPerSecond
	clock        clock.Clock
}

// WithRatio sets how many retries each call earns: ratio 0.1, the default,
// lets retries add at most 10% to the calls made (plus the minimum rate).
// Zero means calls earn nothing and only the minimum rate refills the
// budget. [NewBudget] panics unless 0 ≤ ratio ≤ 1000.
func WithRatio(ratio float64) BudgetOption {
	return budgetOptionFunc(func(o *budgetOptions) { o.ratio = ratio })
}

// WithMinPerSecond sets a rate of retries that is always allowed, however
// few calls are made, so that a quiet client can still retry: the budget
// refills by n tokens per second. The default is 10. Zero means no minimum:
// only calls refill the budget. [NewBudget] panics unless 0 ≤ n ≤ 1e9.
func WithMinPerSecond(n float64) BudgetOption {
	return budgetOptionFunc(func(o *budgetOptions) { o.minPerSecond = n })
}

// WithMaxTokens sets the capacity of the budget, which is also its starting
// balance: the largest burst of retries it allows. The default, and zero,
// is ten seconds of the minimum rate and at least 10 tokens (100 tokens
// with the default rate). [NewBudget] panics unless 1 ≤ n ≤ 1e12 (or n is 0).
func WithMaxTokens(n float64) BudgetOption {
	return budgetOptionFunc(func(o *budgetOptions) { o.maxTokens = n })
}
