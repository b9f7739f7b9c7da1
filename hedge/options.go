package hedge

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/callguard/callguard"
)

// Defaults of [New]. The quantile follows The Tail at Scale (Dean and
// Barroso, 2013), which hedges "after the 95th-percentile expected
// latency"; the budget keeps the extra load at 5% of calls, and one hedge
// per call is what that paper, Finagle's BackupRequestFilter and gRPC's
// hedging policy use by default.
const (
	DefaultQuantile     = 0.95
	DefaultWindow       = 1000                   // latency samples kept
	DefaultInitialDelay = 100 * time.Millisecond // until the window has enough samples
	DefaultMaxHedges    = 1
	DefaultRatio        = 0.05 // hedges earned per call
	DefaultBurst        = 10   // hedges the budget holds at most
)

// maxHedges bounds WithMaxHedges: each hedge is one more copy of the call.
const maxHedges = 10

// An Option configures a [Hedger].
type Option interface{ apply(*options) }

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

type options struct {
	delay     time.Duration // fixed delay, or the initial one with a quantile
	quantile  float64       // 0: fixed delay
	window    int
	maxHedges int
	ratio     float64
	burst     float64
	safe      func(context.Context) bool
	onHedge   func(ctx context.Context, attempt int)
	clock     callguard.Clock
}

func defaultOptions() options {
	return options{
		delay:     DefaultInitialDelay,
		quantile:  DefaultQuantile,
		window:    DefaultWindow,
		maxHedges: DefaultMaxHedges,
		ratio:     DefaultRatio,
		burst:     DefaultBurst,
		safe:      callguard.IsSafe,
		clock:     callguard.SystemClock,
	}
}

// validate panics, with a "hedge: " prefix, on impossible settings.
func (o *options) validate() {
	switch {
	case o.delay < 0:
		panic(fmt.Sprintf("hedge: delay must be >= 0, got %v", o.delay))
	case o.quantile != 0 && !(o.quantile > 0 && o.quantile < 1):
		panic(fmt.Sprintf("hedge: quantile must be in (0, 1), got %v", o.quantile))
	case o.quantile != 0 && (o.window < 1 || o.window > 1<<20):
		panic(fmt.Sprintf("hedge: window must be in [1, %d] samples, got %d", 1<<20, o.window))
	case o.maxHedges < 0 || o.maxHedges > maxHedges:
		panic(fmt.Sprintf("hedge: max hedges must be in [0, %d], got %d", maxHedges, o.maxHedges))
	case !(o.ratio >= 0 && o.ratio <= 1):
		panic(fmt.Sprintf("hedge: budget ratio must be in [0, 1], got %v", o.ratio))
	case !(o.burst >= 0 && o.burst <= 1e6) || math.IsInf(o.burst, 0):
		panic(fmt.Sprintf("hedge: budget burst must be in [0, 1e6], got %v", o.burst))
	}
}

// WithDelay sets a fixed delay: a hedge starts when the call has run for d
// without an answer. It turns off the quantile of [WithQuantile]. Zero
// means at once (each call is sent 1+n times, within the budget); a
// negative d panics. The default is the quantile.
func WithDelay(d time.Duration) Option {
	return optionFunc(func(o *options) { o.delay, o.quantile = d, 0 })
}

// WithQuantile makes the delay follow the q quantile of the latencies of
// the last window successful attempts, measured as they finish. Until
// window/10 samples are in (at least one), the delay is initial. The
// quantile is recomputed every window/10 samples. The default is
// WithQuantile(0.95, 1000, 100ms). q must be in (0, 1) and window in
// [1, 2^20], initial >= 0, or [New] panics.
//
// Attempts that lose the race are cancelled and not measured, so the
// window sees the faster answers and the quantile errs low: more calls
// qualify for a hedge, and the budget ([WithBudget]) caps them.
func WithQuantile(q float64, window int, initial time.Duration) Option {
	return optionFunc(func(o *options) { o.quantile, o.window, o.delay = q, window, initial })
}

// WithMaxHedges sets how many hedges a call may send besides its first
// attempt, each a delay after the one before. The default is 1; 0 turns
// hedging off. n must be in [0, 10], or [New] panics.
func WithMaxHedges(n int) Option {
	return optionFunc(func(o *options) { o.maxHedges = n })
}

// WithBudget caps the extra load: every call that may be hedged earns
// ratio of a hedge, every hedge spends one, and the budget holds at most
// burst (it starts full). So over N such calls, at most ratio·N + burst
// hedges are sent. The default is WithBudget(0.05, 10). ratio must be in
// [0, 1] and burst in [0, 1e6], or [New] panics.
func WithBudget(ratio, burst float64) Option {
	return optionFunc(func(o *options) { o.ratio, o.burst = ratio, burst })
}

// WithSafe sets the predicate that says whether a call may be sent more
// than once: a call for which it returns false runs once, as if there were
// no Hedger. The default, and what nil means, is [callguard.IsSafe]: only calls whose
// context was marked with [callguard.ContextSafe]. For a Hedger that guards only
// idempotent calls, WithSafe(func(context.Context) bool { return true })
// hedges every call. fn must be safe for concurrent use.
func WithSafe(fn func(ctx context.Context) bool) Option {
	return optionFunc(func(o *options) {
		if fn == nil {
			fn = callguard.IsSafe
		}
		o.safe = fn
	})
}

// OnHedge sets a hook called as each hedge starts, with the call's context
// and the hedge's attempt number (2 for the first hedge). It runs on the
// timer's goroutine, while the call's lock is held: it must be quick. The
// default is no hook.
func OnHedge(fn func(ctx context.Context, attempt int)) Option {
	return optionFunc(func(o *options) { o.onHedge = fn })
}

// WithClock sets the clock that times the delay and measures latencies. The
// default, and what nil means, is [callguard.SystemClock]; tests pass a fake
// one.
func WithClock(c callguard.Clock) Option {
	return optionFunc(func(o *options) {
		if c == nil {
			c = callguard.SystemClock
		}
		o.clock = c
	})
}
