package chaos

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/callguard/callguard"
)

// ErrInjected is matched, with errors.Is, by every fault a [Chaos]
// injects: the errors of [WithError] given nil, and the refusals of
// [WithRefusal]. An injected error given to WithError matches only itself.
var ErrInjected = errors.New("chaos: injected fault")

// A Chaos is a policy that injects faults into a share of the calls it
// runs, while it is enabled. It is safe for concurrent use; create one with
// [New]. It starts disabled.
type Chaos struct {
	on        atomic.Bool
	enabledIf func(context.Context) bool // nil: every call while on

	errRate     float64
	err         error
	latencyRate float64
	latency     time.Duration
	refuseRate  float64
	refusal     error

	clock callguard.Clock
	rand  func() float64
}

var _ callguard.Policy = (*Chaos)(nil)

// New returns a disabled Chaos that, once enabled, injects the faults of
// opts. It panics if a rate is outside [0, 1] or a latency is not positive.
func New(opts ...Option) *Chaos {
	c := &Chaos{err: ErrInjected, clock: callguard.SystemClock, rand: rand.Float64}
	for _, o := range opts {
		o.apply(c)
	}
	for _, r := range []struct {
		name string
		v    float64
	}{{"error", c.errRate}, {"latency", c.latencyRate}, {"refusal", c.refuseRate}} {
		if !(r.v >= 0 && r.v <= 1) {
			panic(fmt.Sprintf("chaos: %s rate must be in [0, 1], got %v", r.name, r.v))
		}
	}
	if c.latencyRate > 0 && c.latency <= 0 {
		panic(fmt.Sprintf("chaos: latency must be > 0, got %v", c.latency))
	}
	return c
}

// Enable switches fault injection on.
func (c *Chaos) Enable() { c.on.Store(true) }

// Disable switches fault injection off: calls run untouched.
func (c *Chaos) Disable() { c.on.Store(false) }

// Enabled reports whether fault injection is on.
func (c *Chaos) Enabled() bool { return c.on.Load() }

// Do runs fn, unless c injects a fault into this call: it may first wait
// (latency), then return an injected refusal or error instead of calling
// fn. Each fault is drawn on its own, at its rate. A latency wait ends
// early when ctx is done, and Do then returns ctx.Err() without calling fn.
func (c *Chaos) Do(ctx context.Context, fn func(context.Context) error) error {
	return c.run(ctx, fn, callguard.Invoke)
}

// Wrap implements [callguard.Policy]: the handler runs next as
// [Chaos.Do] runs fn.
func (c *Chaos) Wrap(next callguard.Handler) callguard.Handler {
	return func(ctx context.Context, call func(context.Context) error) error {
		return c.run(ctx, call, next)
	}
}

func (c *Chaos) run(ctx context.Context, call func(context.Context) error, next callguard.Handler) error {
	if !c.on.Load() || (c.enabledIf != nil && !c.enabledIf(ctx)) {
		return next(ctx, call)
	}
	if c.draw(c.latencyRate) {
		if err := c.wait(ctx); err != nil {
			return err
		}
	}
	if c.draw(c.refuseRate) {
		return c.refusal
	}
	if c.draw(c.errRate) {
		return c.err
	}
	return next(ctx, call)
}

// draw reports true with probability rate.
func (c *Chaos) draw(rate float64) bool {
	return rate > 0 && (rate >= 1 || c.rand() < rate)
}

func (c *Chaos) wait(ctx context.Context) error {
	t := c.clock.NewTimer(c.latency)
	defer t.Stop()
	select {
	case <-t.C():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
