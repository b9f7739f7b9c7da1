package stack

import (
	"fmt"
	"sync"
	"time"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/breaker"
	"github.com/callguard/callguard/bulkhead"
	"github.com/callguard/callguard/loadshed"
	"github.com/callguard/callguard/retry"
	"github.com/callguard/callguard/timeout"
	"github.com/callguard/callguard/ttl"
)

// Defaults of [Client] and [Server], as in the README's recommended stacks.
const (
	DefaultMaxConcurrent  = 64                     // calls in flight per client pipeline
	DefaultAttemptTimeout = 300 * time.Millisecond // per attempt of a client call
	DefaultServerTimeout  = 2 * time.Second        // per request a server serves
)

// processBudget is the retry budget of every client pipeline built without
// WithBudget and with the system clock: one per process.
var processBudget = sync.OnceValue(func() *retry.Budget { return retry.NewBudget() })

// Client returns the recommended pipeline for the calls to one backend: a
// throttle, retry with a retry budget, a breaker, a bulkhead of
// [DefaultMaxConcurrent] and a per-attempt timeout of
// [DefaultAttemptTimeout], the first outermost. Its retry budget is shared
// by every pipeline that Client builds without [WithBudget] or [WithClock].
// Client panics with the message of the option's package on an invalid
// setting (retry: max attempts must be ≥ 1, got 0).
func Client(opts ...ClientOption) *callguard.Pipeline {
	o := clientOptions{maxConcurrent: DefaultMaxConcurrent, attempt: DefaultAttemptTimeout}
	for _, opt := range opts {
		opt.applyClient(&o)
	}
	if o.clock != nil {
		o.throttle = append([]loadshed.ThrottleOption{loadshed.WithClock(o.clock)}, o.throttle...)
		o.breaker = append([]breaker.Option{breaker.WithClock(o.clock)}, o.breaker...)
		o.bulkhead = append([]bulkhead.Option{bulkhead.WithClock(o.clock)}, o.bulkhead...)
	}
	budget := o.budget
	switch {
	case budget != nil:
	case o.clock != nil: // a test's own budget, on its clock
		budget = retry.NewBudget(retry.WithClock(o.clock))
	default:
		budget = processBudget()
	}
	ro := []retry.Option{retry.WithBudget(budget)}
	if o.clock != nil {
		ro = append(ro, retry.WithClock(o.clock))
	}
	if o.name != "" {
		o.breaker = append([]breaker.Option{breaker.WithName(o.name)}, o.breaker...)
	}
	ps := []callguard.Policy{
		newTimeout(o.overall, o.clock, timeout.WithOverall()),
		loadshed.NewThrottle(o.throttle...),
		retry.New(append(ro, o.retry...)...),
		breaker.New(o.breaker...),
		bulkhead.New(o.maxConcurrent, o.bulkhead...),
		newTimeout(o.attempt, o.clock),
	}
	return checked(callguard.CheckClient, ps)
}

// Server returns the recommended pipeline for the requests a service
// serves: the loop check of ttl with service's id, an adaptive
// concurrency limit (loadshed.New) and a request timeout of
// [DefaultServerTimeout], the first outermost. It panics if service is not a
// valid service id (see ttl.ValidService): a server without one cannot
// detect call loops.
func Server(service string, opts ...ServerOption) *callguard.Pipeline {
	if !ttl.ValidService(service) {
		panic(fmt.Sprintf("stack: invalid service id %q: want 1 to %d letters, digits, '.', '_' or '-'", service, ttl.MaxServiceLen))
	}
	o := serverOptions{timeout: DefaultServerTimeout}
	for _, opt := range opts {
		opt.applyServer(&o)
	}
	if o.clock != nil {
		o.limiter = append([]loadshed.Option{loadshed.WithClock(o.clock)}, o.limiter...)
	}
	ps := []callguard.Policy{
		ttl.New(append([]ttl.Option{ttl.WithService(service)}, o.ttl...)...),
		loadshed.New(o.limiter...),
		newTimeout(o.timeout, o.clock),
	}
	return checked(callguard.CheckServer, ps)
}

// newTimeout returns a timeout of d on clk, or nil (no policy) if d is 0.
func newTimeout(d time.Duration, clk callguard.Clock, opts ...timeout.Option) callguard.Policy {
	if d == 0 {
		return nil
	}
	if clk != nil {
		opts = append(opts, timeout.WithClock(clk))
	}
	return timeout.New(d, opts...)
}

// checked chains ps and panics if check refuses the pipeline, which only a
// broken stack could make it do.
func checked(check func(callguard.Policy) error, ps []callguard.Policy) *callguard.Pipeline {
	p := callguard.Chain(ps...)
	if err := check(p); err != nil {
		panic("stack: " + err.Error())
	}
	return p
}
