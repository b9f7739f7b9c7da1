package loadshed

import (
	"context"
	"time"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/internal/clock"
)

// Defaults of [New], with their sources.
const (
	// DefaultInitialLimit is the limit before the first measurement
	// (Netflix concurrency-limits, Gradient2Limit initialLimit).
	DefaultInitialLimit = 20
	// DefaultMinLimit is the floor of an adaptive limit (Envoy adaptive
	// concurrency, min_concurrency 3): never shed down to nothing.
	DefaultMinLimit = 3
	// DefaultMaxLimit is the ceiling of an adaptive limit (Envoy adaptive
	// concurrency, max_concurrency_limit 1000).
	DefaultMaxLimit = 1000
	// DefaultWindow is the shortest sampling window: the limit changes at
	// most once per window (Netflix WindowedLimit: windows of at least
	// 100ms and 10 samples, twice the measured RTT, at most 1s).
	DefaultWindow = 100 * time.Millisecond
	// DefaultWindowSamples is the fewest samples a window closes with.
	DefaultWindowSamples = 10
	// DefaultShareDefault and DefaultShareSheddable are the shares of the
	// limit that default and sheddable requests may fill; critical
	// requests may fill all of it. See [WithShare]. Measured with the
	// simulation of TestPriorityOverload (2x overload, half critical, a
	// fake clock, so the same every run), with Gradient2, the default
	// then: these kept 96.9% of the critical requests succeeding, shares
	// of 0.9 (default) and 0.7 (sheddable) 95.9%.
	DefaultShareDefault   = 0.75
	DefaultShareSheddable = 0.5
)

// An Option configures a [Limiter].
type Option interface{ apply(*options) }

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

type options struct {
	initial, minLimit, maxLimit int
	fixed                       bool
	algo                        Algorithm
	window                      time.Duration
	shares                      [3]float64 // by Priority.index
	maxWait                     time.Duration
	maxQueue                    int
	queueMode                   queueMode
	minService                  time.Duration
	learned                     bool
	pushback                    time.Duration
	onLimit                     func(old, new int)
	onShed                      func(context.Context, Priority)
	retryShare                  float64
	clock                       clock.Clock
}

func defaultOptions() options {
	return options{
		initial:    DefaultInitialLimit,
		minLimit:   DefaultMinLimit,
		maxLimit:   DefaultMaxLimit,
		algo:       Gradient{},
		window:     DefaultWindow,
		shares:     [3]float64{DefaultShareSheddable, DefaultShareDefault, 1},
		retryShare: DefaultRetryShare,
		clock:      clock.Real,
	}
}

// WithInitialLimit sets the concurrency limit a Limiter starts with. The
// default is 20. [New] panics if n is outside [min, max] of the limiter.
func WithInitialLimit(n int) Option {
	return optionFunc(func(o *options) { o.initial = n })
}

// WithMinLimit sets the floor below which an adaptive limit never falls.
// The default is 3. [New] panics if n < 1.
func WithMinLimit(n int) Option {
	return optionFunc(func(o *options) { o.minLimit = n })
}

// WithMaxLimit sets the ceiling above which an adaptive limit never rises.
// The default is 1000. [New] panics if n is below the min limit.
func WithMaxLimit(n int) Option {
	return optionFunc(func(o *options) { o.maxLimit = n })
}

// WithFixedLimit makes the limit fixed at n: the limiter is then a bulkhead
// with priorities, and reads the clock only if [WithLearnedServiceTime] or
// a wait asks it to. n bounds critical requests; the others get their
// share of it ([WithShare]), so with the default shares default requests
// get 3n/4: add WithShare(Default, 1) for a plain bulkhead of n. A fixed
// limit has no sampling windows, so priorities rank by their shares only.
// [New] panics if n < 1.
func WithFixedLimit(n int) Option {
	return optionFunc(func(o *options) { o.fixed, o.initial, o.minLimit, o.maxLimit = true, n, n, n })
}

// WithAlgorithm sets how an adaptive limit follows the measurements:
// [Gradient] (the default), [Gradient2] or [AIMD]. [New] panics if a is nil.
func WithAlgorithm(a Algorithm) Option {
	return optionFunc(func(o *options) { o.algo = a })
}

// WithSampleWindow sets the shortest sampling window. A window closes, and the
// limit is recomputed, at the first release after it has lasted d and
// twice its average latency (at most max(d, 1s)), once it holds at least
// 10 samples. The default is 100ms. [New] panics if d <= 0.
func WithSampleWindow(d time.Duration) Option {
	return optionFunc(func(o *options) { o.window = d })
}

// WithShare sets the share of the limit that requests of priority p may
// fill: a request is admitted while the calls in flight are fewer than
// max(1, ⌊share·limit⌋). The defaults are 0.5 for [Sheddable], 0.75 for
// [Default] and 1 for [Critical], so that under overload sheddable requests
// are refused first and critical ones last, and critical requests find
// room that lower priorities cannot take. An adaptive limit grows until
// the admitted requests fill the service, whatever their priorities; a
// fixed one gives each priority its share only. [New] panics if share is
// outside (0, 1], if p is not a valid priority, or if the shares do not
// grow with the priority.
func WithShare(p Priority, share float64) Option {
	return optionFunc(func(o *options) {
		if !valid(p) {
			panic("loadshed: invalid priority " + p.String())
		}
		o.shares[rank(p)] = share
	})
}

// WithMaxWait lets a call that finds no capacity wait up to d for it, within
// its context's deadline. Zero, the default, means no waiting: the call is
// refused at once. It applies to a [Limiter] (an [Option]) and to rate
// limits (a [RateOption]), as [WithClock] does.
//
// A Limiter's waiters are served by priority, critical first, and within a
// priority in arrival order; the queue is bounded by [WithMaxQueue]; and
// once it has not been empty for 100ms, new waiters wait at most 5ms
// (CoDel: a standing queue is overload, not a burst). See the package
// documentation. A rate limit's caller waits for a token; refused, it gets
// a [*ShedError] whose Delay says when a token will be free. The
// constructors panic if d < 0.
func WithMaxWait(d time.Duration) WaitOption { return WaitOption{d} }

// A WaitOption sets the longest wait of a Limiter or a rate limit; see
// [WithMaxWait].
type WaitOption struct{ d time.Duration }

func (o WaitOption) apply(opts *options)         { opts.maxWait = o.d }
func (o WaitOption) applyRate(opts *rateOptions) { opts.maxWait = o.d }

// WithMaxQueue bounds the number of requests waiting for a slot when
// [WithMaxWait] is set. Zero, the default, means the current limit. When
// the queue is full, a request evicts the oldest waiter of a lower
// priority, if there is one, and is refused otherwise. [New] panics if
// n < 0.
func WithMaxQueue(n int) Option {
	return optionFunc(func(o *options) { o.maxQueue = n })
}

// WithMinServiceTime refuses, with [ErrDeadline], a request whose context
// has less than d left before its deadline, before it takes a slot: it
// could not finish in time, and its work would be wasted. Zero, the
// default, means no such check. [New] panics if d < 0.
func WithMinServiceTime(d time.Duration) Option {
	return optionFunc(func(o *options) { o.minService = d })
}

// WithLearnedServiceTime refuses, with [ErrDeadline], a request whose
// context has less time left than the limiter's long-term average latency
// (the adaptive algorithm's baseline), before it takes a slot. Until the first window
// closes there is no estimate and nothing is refused. With
// [WithMinServiceTime] too, the larger of the two applies. The default is
// off.
func WithLearnedServiceTime() Option {
	return optionFunc(func(o *options) { o.learned = true })
}

// WithPushback sets the delay that refusals suggest to the caller. Zero,
// the default, means "do not retry": the limiter returns the preallocated
// [ErrShed] and adapters send "Callguard-Pushback: -1". With d > 0 a
// refusal is a [*ShedError] with Delay d (one allocation per refusal), and
// a client's retry policy may try again after d. [New] panics if d < 0.
func WithPushback(d time.Duration) Option {
	return optionFunc(func(o *options) { o.pushback = d })
}

// OnLimitChange sets a function called after each change of the limit,
// with the old and new values. Calls are serialized; fn runs on the
// goroutine of the release that closed a sampling window, so it must be
// fast. The default, nil, means no hook.
func OnLimitChange(fn func(old, new int)) Option {
	return optionFunc(func(o *options) { o.onLimit = fn })
}

// OnShed sets a function called, on the caller's goroutine, each time the
// limiter refuses a request for lack of a slot, with the request's context
// (and so its request id, see [callguard.RequestIDFromContext]) and
// priority. Refusals with [ErrDeadline] do not call it. It must be fast and
// safe for concurrent use. The default, nil, means no hook.
func OnShed(fn func(ctx context.Context, p Priority)) Option {
	return optionFunc(func(o *options) { o.onShed = fn })
}

// withQueueMode sets the order of waiters. Tests use it to measure the
// default's choice.
func withQueueMode(m queueMode) Option {
	return optionFunc(func(o *options) { o.queueMode = m })
}

// WithClock sets the clock of a [Limiter] (its sampling windows, latency
// measurements, queue waits and deadline checks), a [Throttle] (its
// window) or a rate limit (its refill and waits): the ClockOption it
// returns is an [Option], a [ThrottleOption] and a [RateOption]. A test
// passes a fake clock (package callguardtest) and advances it instead of
// sleeping. The default, and nil, is [callguard.SystemClock], which the
// limiter reads through the monotonic clock only.
func WithClock(c callguard.Clock) ClockOption {
	if c == nil {
		c = callguard.SystemClock
	}
	return ClockOption{c}
}

// A ClockOption sets the clock of a Limiter, a Throttle or a rate limit;
// see [WithClock].
type ClockOption struct{ c callguard.Clock }

func (o ClockOption) apply(opts *options)                 { opts.clock = o.c }
func (o ClockOption) applyThrottle(opts *throttleOptions) { opts.clock = o.c }
func (o ClockOption) applyRate(opts *rateOptions)         { opts.clock = o.c }
