package hedge

import (
	"context"
	"errors"
	"time"

	"github.com/callguard/callguard"
)

// errLost is the cause with which the attempts that lost the race are
// cancelled.
var errLost = errors.New("hedge: another attempt answered first")

// A Hedger sends a second copy of a slow call (a hedge) while the first is
// still running, and returns the first success: a few extra calls cut the
// tail of the latency. It is safe for concurrent use. The zero value is not
// usable; call [New].
//
// Only calls that are safe to repeat are hedged (see [WithSafe]); the
// others run once, untouched. Hedges are capped per call ([WithMaxHedges])
// and across calls by a budget ([WithBudget]).
type Hedger struct {
	delay     time.Duration
	win       *window // nil: fixed delay
	maxHedges int
	budget    *budget
	safe      func(context.Context) bool
	onHedge   func(ctx context.Context, attempt int)
	clock     callguard.Clock
}

// New returns a Hedger configured by opts. With no options it hedges calls
// marked by [ContextSafe] once, after the 95th percentile of the latency
// of the last 1000 successful attempts (100 ms until 100 are in), within a
// budget of 5% of calls plus a burst of 10.
//
// New panics, with a message starting "hedge: ", when an option is out of
// range (see each option).
func New(opts ...Option) *Hedger {
	o := defaultOptions()
	for _, opt := range opts {
		opt.apply(&o)
	}
	o.validate()
	h := &Hedger{
		delay:     o.delay,
		maxHedges: o.maxHedges,
		budget:    newBudget(o.ratio, o.burst),
		safe:      o.safe,
		onHedge:   o.onHedge,
		clock:     o.clock,
	}
	if o.quantile != 0 {
		h.win = newWindow(o.quantile, o.window)
	}
	return h
}

// Do calls fn, and again with the same arguments each time the delay passes
// with no success yet, up to the limits; each attempt gets its own context,
// a child of ctx. It returns nil as soon as one attempt succeeds, after
// cancelling the others and waiting for them to return; or, when every
// attempt failed, the error of the last to fail. The results of the
// attempts whose outcome is not returned are released through
// [OnDiscard].
//
// Do waits for every attempt it started, so no goroutine outlives the
// call: fn must return soon after its context is cancelled. If an attempt
// panics, Do cancels the others, waits for them, and panics with the same
// value. A call that may not be hedged (see [WithSafe]) is fn(ctx), on
// the calling goroutine.
func (h *Hedger) Do(ctx context.Context, fn func(context.Context) error) error {
	return h.run(ctx, callguard.Invoke, fn)
}

// Wrap returns a handler that runs next under the Hedger, as [Hedger.Do]
// runs fn: each attempt is a call of next. It implements
// [callguard.Policy].
func (h *Hedger) Wrap(next callguard.Handler) callguard.Handler {
	return func(ctx context.Context, call func(context.Context) error) error {
		return h.run(ctx, next, call)
	}
}

// Delay returns the delay after which a call is hedged now: the fixed
// delay, or the current estimate of the quantile.
func (h *Hedger) Delay() time.Duration {
	if h.win != nil {
		if d, ok := h.win.quantile(); ok {
			return d
		}
	}
	return h.delay
}

// An attempt is one copy of the call: its context, with its number and its
// discard function as values.
type attempt struct {
	context.Context
	cancel   context.CancelCauseFunc
	n        int
	start    time.Time
	err      error
	panicked bool
	panicVal any
	discard  func() // set by the attempt through OnDiscard, read after it returned
}

func (a *attempt) Value(key any) any {
	if key == (attemptKey{}) {
		return a
	}
	return a.Context.Value(key)
}

// run is the policy. The calling goroutine runs the loop: it starts each
// attempt on a goroutine of its own, and waits for the results and the
// delay's timer.
func (h *Hedger) run(ctx context.Context, next callguard.Handler, call func(context.Context) error) error {
	if h.maxHedges == 0 || !h.safe(ctx) {
		return next(ctx, call)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	h.budget.deposit()
	c := &hedgedCall{h: h, ctx: ctx, next: next, call: call, results: make(chan *attempt, h.maxHedges+1)}
	c.attempts = c.buf[:0]
	kept := c.race()
	c.finish(kept)
	if kept.panicked {
		panic(kept.panicVal)
	}
	return kept.err
}

// A hedgedCall is the state of one call that may be hedged. Only the
// calling goroutine touches it, but for results.
type hedgedCall struct {
	h        *Hedger
	ctx      context.Context
	next     callguard.Handler
	call     func(context.Context) error
	results  chan *attempt // buffered for every attempt: senders never block
	attempts []*attempt
	inflight int
	buf      [2]*attempt // attempts' backing array for up to one hedge
}

// race runs the attempts until one succeeds or panics, or all failed, and
// returns the one whose outcome the call returns.
func (c *hedgedCall) race() *attempt {
	c.launch()
	delay := c.h.Delay()
	timer := c.h.clock.NewTimer(delay)
	defer func() { timer.Stop() }()
	tc := timer.C()
	var last *attempt
	for c.inflight > 0 {
		select {
		case a := <-c.results:
			c.inflight--
			if a.err == nil || a.panicked {
				return a
			}
			last = a
		case <-tc:
			tc = nil
			if len(c.attempts) > c.h.maxHedges || c.ctx.Err() != nil || !c.h.budget.take() {
				continue
			}
			c.launch()
			if c.h.onHedge != nil {
				c.h.onHedge(c.ctx, len(c.attempts))
			}
			if len(c.attempts) <= c.h.maxHedges {
				timer.Stop()
				timer = c.h.clock.NewTimer(delay)
				tc = timer.C()
			}
		}
	}
	return last
}

// launch starts the next attempt.
func (c *hedgedCall) launch() {
	actx, cancel := context.WithCancelCause(c.ctx)
	a := &attempt{Context: actx, cancel: cancel, n: len(c.attempts) + 1, start: c.h.clock.Now()}
	c.attempts = append(c.attempts, a)
	c.inflight++
	go c.runAttempt(a)
}

// runAttempt runs one attempt and sends it on results, even if it panics.
func (c *hedgedCall) runAttempt(a *attempt) {
	done := false
	defer func() {
		if !done {
			a.panicked, a.panicVal = true, recover()
		}
		c.results <- a
	}()
	a.err = c.next(a, c.call)
	done = true
}

// finish cancels every attempt, waits for those still running, records the
// kept one's latency if it succeeded, and releases the others' results.
func (c *hedgedCall) finish(kept *attempt) {
	for _, a := range c.attempts {
		if a != kept {
			a.cancel(errLost)
		}
	}
	for ; c.inflight > 0; c.inflight-- {
		<-c.results
	}
	for _, a := range c.attempts {
		if a == kept {
			a.cancel(nil)
			continue
		}
		if a.discard != nil {
			a.discard()
		}
	}
	if c.h.win != nil && kept.err == nil && !kept.panicked {
		c.h.win.add(c.h.clock.Now().Sub(kept.start))
	}
}
