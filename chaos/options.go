package chaos

import (
	"context"
	"time"

	"github.com/callguard/callguard"
)

// An Option configures a [Chaos].
type Option interface{ apply(*Chaos) }

type optionFunc func(*Chaos)

func (f optionFunc) apply(c *Chaos) { f(c) }

// WithError makes a share rate of the calls fail with err instead of
// running. A nil err means [ErrInjected]. To test how code handles a
// class of error, inject one: callguard.Permanent(...) is never retried, a
// timeout error is retried and counted by a breaker. The default rate is
// zero: no errors.
func WithError(rate float64, err error) Option {
	return optionFunc(func(c *Chaos) {
		if err == nil {
			err = ErrInjected
		}
		c.errRate, c.err = rate, err
	})
}

// WithLatency makes a share rate of the calls wait d before they run (or
// before an injected fault is returned). The wait is on the clock of
// [WithClock] and ends when the call's context is done. The default rate
// is zero: no latency.
func WithLatency(rate float64, d time.Duration) Option {
	return optionFunc(func(c *Chaos) { c.latencyRate, c.latency = rate, d })
}

// WithRefusal makes a share rate of the calls fail as a callee that sheds
// load answers: with a [callguard.OverloadedError] that asks for pushback
// (zero or less: "overloaded, don't retry") and matches [ErrInjected]. A
// throttle counts it, retry waits for the pushback or gives up, a breaker
// does not count it. The default rate is zero: no refusals.
func WithRefusal(rate float64, pushback time.Duration) Option {
	return optionFunc(func(c *Chaos) {
		c.refuseRate, c.refusal = rate, callguard.Overloaded(pushback, ErrInjected)
	})
}

// WithEnabledIf limits injection to the calls for which f returns true,
// while the Chaos is enabled: calls of one tenant, or requests that carry a
// test header the handler put in the context. f runs on every call while
// the Chaos is enabled and must be fast and safe for concurrent use. The
// default, and nil, is every call.
func WithEnabledIf(f func(ctx context.Context) bool) Option {
	return optionFunc(func(c *Chaos) { c.enabledIf = f })
}

// WithClock sets the clock that times the injected latency; a test passes
// a fake clock (package callguardtest). The default, and nil, is
// [callguard.SystemClock].
func WithClock(clk callguard.Clock) Option {
	return optionFunc(func(c *Chaos) {
		if clk == nil {
			clk = callguard.SystemClock
		}
		c.clock = clk
	})
}

// withRand replaces the random draw in [0, 1). For tests.
func withRand(f func() float64) Option {
	return optionFunc(func(c *Chaos) { c.rand = f })
}
