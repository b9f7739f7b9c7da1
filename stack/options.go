package stack

import (
	"fmt"
	"time"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/breaker"
	"github.com/callguard/callguard/bulkhead"
	"github.com/callguard/callguard/loadshed"
	"github.com/callguard/callguard/retry"
	"github.com/callguard/callguard/ttl"
)

// A ClientOption configures [Client].
type ClientOption interface{ applyClient(*clientOptions) }

// A ServerOption configures [Server].
type ServerOption interface{ applyServer(*serverOptions) }

type clientOptions struct {
	name             string
	budget           *retry.Budget
	maxConcurrent    int
	attempt, overall time.Duration
	clock            callguard.Clock
	throttle         []loadshed.ThrottleOption
	retry            []retry.Option
	breaker          []breaker.Option
	bulkhead         []bulkhead.Option
}

type serverOptions struct {
	timeout time.Duration
	clock   callguard.Clock
	ttl     []ttl.Option
	limiter []loadshed.Option
}

type clientFunc func(*clientOptions)

func (f clientFunc) applyClient(o *clientOptions) { f(o) }

type serverFunc func(*serverOptions)

func (f serverFunc) applyServer(o *serverOptions) { f(o) }

// WithName names the backend: the breaker's name (breaker.WithName), which
// its events carry. The default is no name.
func WithName(name string) ClientOption {
	return clientFunc(func(o *clientOptions) { o.name = name })
}

// WithBudget sets the retry budget. The default is one budget shared by
// every client pipeline of the process (a pipeline built with [WithClock]
// gets its own on that clock); nil means the default.
func WithBudget(b *retry.Budget) ClientOption {
	return clientFunc(func(o *clientOptions) { o.budget = b })
}

// WithMaxConcurrent sets the bulkhead's size, the calls in flight at once.
// The default is [DefaultMaxConcurrent]. [Client] panics if n < 1.
func WithMaxConcurrent(n int) ClientOption {
	return clientFunc(func(o *clientOptions) { o.maxConcurrent = n })
}

// WithAttemptTimeout sets the per-attempt timeout, innermost. The default
// is [DefaultAttemptTimeout]; zero means no per-attempt timeout. [Client]
// panics if d < 0.
func WithAttemptTimeout(d time.Duration) ClientOption {
	return clientFunc(func(o *clientOptions) { o.attempt = checkDuration("WithAttemptTimeout", d) })
}

// WithOverallTimeout adds an overall timeout outermost, which bounds a call
// with all its attempts and waits. The default, zero, adds none. [Client]
// panics if d < 0.
func WithOverallTimeout(d time.Duration) ClientOption {
	return clientFunc(func(o *clientOptions) { o.overall = checkDuration("WithOverallTimeout", d) })
}

// WithThrottle passes options to the throttle (loadshed.NewThrottle).
func WithThrottle(opts ...loadshed.ThrottleOption) ClientOption {
	return clientFunc(func(o *clientOptions) { o.throttle = append(o.throttle, opts...) })
}

// WithRetry passes options to retry (retry.New), after the stack's own:
// retry.WithMaxAttempts(5), for example. A retry.WithBudget given here
// replaces the stack's budget.
func WithRetry(opts ...retry.Option) ClientOption {
	return clientFunc(func(o *clientOptions) { o.retry = append(o.retry, opts...) })
}

// WithBreaker passes options to the breaker (breaker.New), after the
// stack's own.
func WithBreaker(opts ...breaker.Option) ClientOption {
	return clientFunc(func(o *clientOptions) { o.breaker = append(o.breaker, opts...) })
}

// WithBulkhead passes options to the bulkhead (bulkhead.New), after the
// stack's own: bulkhead.WithMaxWait, for example.
func WithBulkhead(opts ...bulkhead.Option) ClientOption {
	return clientFunc(func(o *clientOptions) { o.bulkhead = append(o.bulkhead, opts...) })
}

// WithTimeout sets the server's request timeout. The default is
// [DefaultServerTimeout]; zero means none. [Server] panics if d < 0.
func WithTimeout(d time.Duration) ServerOption {
	return serverFunc(func(o *serverOptions) { o.timeout = checkDuration("WithTimeout", d) })
}

// WithTTL passes options to the loop check (ttl.New), after the service id:
// ttl.WithDefaultHops, for example.
func WithTTL(opts ...ttl.Option) ServerOption {
	return serverFunc(func(o *serverOptions) { o.ttl = append(o.ttl, opts...) })
}

// WithLimiter passes options to the concurrency limiter (loadshed.New):
// loadshed.WithMaxWait, for example.
func WithLimiter(opts ...loadshed.Option) ServerOption {
	return serverFunc(func(o *serverOptions) { o.limiter = append(o.limiter, opts...) })
}

// WithClock gives every member that reads the time the clock c: a test
// passes a fake clock (package callguardtest). It is a [ClientOption] and a
// [ServerOption]. The default, and nil, is the system clock. Options given
// to a member (WithRetry, ...) come after it and can override it.
func WithClock(c callguard.Clock) ClockOption { return ClockOption{c} }

// A ClockOption sets the clock of a pipeline; see [WithClock].
type ClockOption struct{ c callguard.Clock }

func (o ClockOption) applyClient(opts *clientOptions) { opts.clock = nilIfSystem(o.c) }
func (o ClockOption) applyServer(opts *serverOptions) { opts.clock = nilIfSystem(o.c) }

func nilIfSystem(c callguard.Clock) callguard.Clock {
	if c == callguard.SystemClock {
		return nil
	}
	return c
}

func checkDuration(name string, d time.Duration) time.Duration {
	if d < 0 {
		panic(fmt.Sprintf("stack: %s duration must be ≥ 0, got %v", name, d))
	}
	return d
}
