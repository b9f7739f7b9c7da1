package breaker

import (
	"fmt"
	"math"
	"time"

	"github.com/callguard/callguard"
)

// Defaults. Sources: Hystrix (circuitBreaker.requestVolumeThreshold 20,
// errorThresholdPercentage 50, sleepWindowInMilliseconds 5000,
// metrics.rollingStats 10 s in 10 buckets), Envoy outlier detection
// (consecutive_5xx 5) and gobreaker (one request in half-open).
const (
	defaultConsecutiveFailures = 5
	defaultFailureRatio        = 0.5
	defaultMinRequests         = 20
	defaultInterval            = 10 * time.Second
	defaultBucket              = time.Second
	defaultOpenTimeout         = 5 * time.Second
	defaultHalfOpenProbes      = 1
)

// maxBuckets bounds interval/bucket. gobreaker keeps one counter per bucket
// and rolls the window one bucket at a time, each roll costing O(buckets)
// under its lock.
const maxBuckets = 100

// An Option configures a [Breaker]. Options are applied in order by [New].
type Option interface{ apply(*options) }

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

type options struct {
	name          string
	consecutive   int // 0: rule disabled
	ratio         float64
	minRequests   uint32
	interval      time.Duration
	bucket        time.Duration
	openTimeout   time.Duration
	probes        int
	isFailure     func(error) bool
	onStateChange func(name string, from, to State)
	slowCall      time.Duration
	clock         callguard.Clock
}

func defaultOptions() options {
	return options{
		consecutive: defaultConsecutiveFailures,
		ratio:       defaultFailureRatio,
		minRequests: defaultMinRequests,
		interval:    defaultInterval,
		bucket:      defaultBucket,
		openTimeout: defaultOpenTimeout,
		probes:      defaultHalfOpenProbes,
	}
}

// validate panics, with a "breaker: " prefix, on impossible settings.
func (o *options) validate() {
	switch {
	case o.consecutive < 0:
		panic(fmt.Sprintf("breaker: consecutive failures must be >= 0, got %d", o.consecutive))
	case int64(o.consecutive) > math.MaxUint32:
		panic(fmt.Sprintf("breaker: consecutive failures must be <= %d, got %d", uint32(math.MaxUint32), o.consecutive))
	case !(o.ratio > 0 && o.ratio <= 1):
		panic(fmt.Sprintf("breaker: failure ratio must be in (0, 1], got %v", o.ratio))
	case o.minRequests < 1:
		panic("breaker: failure ratio min requests must be >= 1, got 0")
	case o.interval < 0:
		panic(fmt.Sprintf("breaker: window interval must be >= 0, got %v", o.interval))
	case o.bucket < 0:
		panic(fmt.Sprintf("breaker: window bucket must be >= 0, got %v", o.bucket))
	case o.bucket > o.interval:
		panic(fmt.Sprintf("breaker: window bucket %v is longer than the interval %v", o.bucket, o.interval))
	case o.bucket > 0 && o.interval%o.bucket != 0:
		panic(fmt.Sprintf("breaker: window interval %v is not a multiple of the bucket %v", o.interval, o.bucket))
	case o.bucket > 0 && o.interval/o.bucket > maxBuckets:
		panic(fmt.Sprintf("breaker: window has %d buckets, more than %d", o.interval/o.bucket, maxBuckets))
	case o.openTimeout <= 0:
		panic(fmt.Sprintf("breaker: open timeout must be > 0, got %v", o.openTimeout))
	case o.slowCall < 0:
		panic(fmt.Sprintf("breaker: slow-call threshold must be >= 0, got %v", o.slowCall))
	case o.probes < 1 || int64(o.probes) > math.MaxUint32:
		panic(fmt.Sprintf("breaker: half-open probes must be in [1, %d], got %d", uint32(math.MaxUint32), o.probes))
	}
}

// WithName names the breaker; the name is passed to the [OnStateChange]
// hook and returned by [Breaker.Name]. The default is "".
func WithName(name string) Option {
	return optionFunc(func(o *options) { o.name = name })
}

// WithConsecutiveFailures opens the circuit when n calls in a row have
// failed (within the window, see [WithWindow]). The default is 5, as Envoy's
// consecutive_5xx (gobreaker's own default trips after more than 5).
// Zero disables the rule, leaving the failure-ratio rule alone; a negative n
// panics.
func WithConsecutiveFailures(n int) Option {
	return optionFunc(func(o *options) { o.consecutive = n })
}

// WithFailureRatio opens the circuit when, within the window (see
// [WithWindow]), at least minRequests calls have completed and the failures
// among them are at least ratio of them. Completed means counted as a
// success or a failure: excluded calls and calls still running do not count.
//
// The default is 0.5 over at least 20 calls, as Hystrix's
// errorThresholdPercentage 50 and requestVolumeThreshold 20. ratio must be
// in (0, 1] and minRequests >= 1, or New panics; there is no zero value. The
// ratio is applied with a precision of one in a million. The rule cannot be
// disabled; WithFailureRatio(1, n) trips only when n calls all failed.
func WithFailureRatio(ratio float64, minRequests uint32) Option {
	return optionFunc(func(o *options) { o.ratio, o.minRequests = ratio, minRequests })
}

// WithWindow sets the rolling window over which the closed circuit counts
// successes and failures: interval long, advancing bucket by bucket. The
// default is a 10 s window of 1 s buckets, as Hystrix's rolling statistics.
//
// interval must be a multiple of bucket, with at most 100 buckets. A zero
// bucket makes a fixed window: the counts are cleared all at once every
// interval. A zero interval (with a zero bucket) means the counts are never
// cleared while the circuit is closed, only when it changes state.
// Negative values panic.
func WithWindow(interval, bucket time.Duration) Option {
	return optionFunc(func(o *options) { o.interval, o.bucket = interval, bucket })
}

// WithOpenTimeout sets how long the circuit stays open before it lets probe
// calls through (half-open). The default is 5 s, Hystrix's sleepWindow;
// gobreaker's own default of 60 s keeps a recovered dependency unused for
// too long for the service-to-service calls callguard guards. d must be
// > 0; zero or negative panics.
func WithOpenTimeout(d time.Duration) Option {
	return optionFunc(func(o *options) { o.openTimeout = d })
}

// WithHalfOpenProbes sets how many calls the half-open circuit lets through;
// further calls get [ErrOpen] until they finish. The circuit closes when n
// probes in a row succeed and opens again on the first probe that fails.
// The default is 1, as gobreaker and Hystrix. n < 1 panics.
func WithHalfOpenProbes(n int) Option {
	return optionFunc(func(o *options) { o.probes = n })
}

// WithIsFailure sets the classifier that decides whether an error returned
// by the call is a failure of the callee. An error it rejects counts as a
// success: the callee answered. It is called only with non-nil errors and
// only after the built-in exclusions (cancellation, permanent errors,
// rejections, see [Breaker]), which it cannot override. A panic always
// counts as a failure.
//
// The default, and what nil means, is that every non-excluded error is a
// failure. fn must be safe for concurrent use.
func WithIsFailure(fn func(error) bool) Option {
	return optionFunc(func(o *options) { o.isFailure = fn })
}

// OnStateChange sets a hook called on every change of state, with the
// breaker's name. The default, and what nil means, is no hook.
//
// fn runs synchronously on the goroutine of the call or method that caused
// the change, while the breaker's lock is held: it must be quick and must
// not call the Breaker's methods, which would deadlock.
func OnStateChange(fn func(name string, from, to State)) Option {
	return optionFunc(func(o *options) { o.onStateChange = fn })
}

// WithSlowCallThreshold counts a call that takes longer than d as a
// failure, even when it succeeded, as resilience4j's
// slowCallDurationThreshold: a dependency that answers, but too slowly to
// be of use, opens the circuit by the same rules as one that fails
// ([WithConsecutiveFailures], [WithFailureRatio]). Excluded calls (see
// [Breaker]) stay excluded however long they take. The default, and what
// zero means, is no threshold; a negative d panics.
//
// With a threshold, each call reads the clock twice more.
func WithSlowCallThreshold(d time.Duration) Option {
	return optionFunc(func(o *options) { o.slowCall = d })
}

// WithClock sets the clock that times the open state and slow calls. The
// default, and what nil means, is [callguard.SystemClock].
//
// gobreaker reads the system clock itself, so with another clock the
// breaker keeps the open state's timing in its own code: the circuit stays
// open, and calls are refused, until the clock passes the open timeout;
// then the next call or [Breaker.State] moves it to half-open. What the
// clock does not drive: the rolling window of the closed state
// ([WithWindow]) still advances with the system clock, so a test with a
// fake clock should use a window longer than the test, or none; and a call
// that races with the one that opens the circuit may make the hook report
// open -> half-open early, while calls are still refused until the clock
// passes the timeout. The clock is meant for tests; production code keeps
// the default.
func WithClock(c callguard.Clock) Option {
	return optionFunc(func(o *options) { o.clock = c })
}
