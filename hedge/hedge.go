package hedge

import (
	"context"
	"errors"
	"sync"
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
// The first attempt runs on the calling goroutine, each hedge on a
// goroutine of its own. Do waits for every attempt it started, so no
// goroutine outlives the call: fn must return soon after its context is
// cancelled. If an attempt panics, Do cancels the others, waits for them,
// and panics with the same value. A call that may not be hedged (see
// [WithSafe]) is fn(ctx), with no new context.
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

// An attempt is one copy of the call: its context, which carries its
// number within the call and its discard function
// ([callguard.AttemptContext]), and its number among the Hedger's attempts.
type attempt struct {
	callguard.AttemptContext
	cancel   context.CancelCauseFunc
	n        int
	start    time.Time
	err      error
	panicked bool
	panicVal any
}

func (a *attempt) Value(key any) any {
	if key == (attemptKey{}) {
		return a
	}
	return a.AttemptContext.Value(key)
}

// run is the policy. The first attempt runs on the calling goroutine; a
// timer (time.AfterFunc, or a goroutine that waits on the clock's timer
// when the clock is not the system's) starts each hedge on a goroutine of
// its own. So a call that answers before the delay costs a context, a
// timer and no goroutine.
func (h *Hedger) run(ctx context.Context, next callguard.Handler, call func(context.Context) error) error {
	if h.maxHedges == 0 || !h.safe(ctx) {
		return next(ctx, call)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	h.budget.deposit()
	c := &hedgedCall{h: h, ctx: ctx, next: next, call: call}
	c.attempts = c.buf[:0]
	first := c.newAttempt()
	c.arm()
	c.runFirst(first)
	kept := c.wait(first)
	c.finish(kept)
	if kept.panicked {
		panic(kept.panicVal)
	}
	return kept.err
}

// A hedgedCall is the state of one call that may be hedged.
//
// mu guards attempts, inflight, results, winner and over: the timer's
// goroutine starts hedges while the calling goroutine runs the first
// attempt, and the first attempt to succeed, on whichever goroutine,
// cancels the others at once. Once over is set, no hedge starts, so
// inflight only goes down.
type hedgedCall struct {
	h     *Hedger
	ctx   context.Context
	next  callguard.Handler
	call  func(context.Context) error
	delay time.Duration

	timer *time.Timer   // with the system clock
	watch chan struct{} // with another clock: closed to stop the watcher
	wdone chan struct{} // closed when the watcher has returned

	mu       sync.Mutex
	attempts []*attempt
	inflight int           // hedges running
	results  chan *attempt // made with the first hedge, buffered for all
	winner   *attempt      // the first attempt to succeed or panic
	over     bool
	buf      [2]*attempt // attempts' backing array for up to one hedge
}

// newAttempt makes the next attempt. The caller holds mu, or no hedge can
// start yet.
func (c *hedgedCall) newAttempt() *attempt {
	actx, cancel := context.WithCancelCause(c.ctx)
	a := &attempt{cancel: cancel, n: len(c.attempts) + 1, start: c.h.clock.Now()}
	a.Init(actx, a.n)
	c.attempts = append(c.attempts, a)
	return a
}

// arm starts the timer of the first hedge.
func (c *hedgedCall) arm() {
	c.delay = c.h.Delay()
	if c.h.clock == callguard.SystemClock {
		c.mu.Lock() // the timer may fire before AfterFunc returns
		c.timer = time.AfterFunc(c.delay, c.fireSystem)
		c.mu.Unlock()
		return
	}
	c.watch, c.wdone = make(chan struct{}), make(chan struct{})
	t := c.h.clock.NewTimer(c.delay)
	go c.watcher(t)
}

func (c *hedgedCall) fireSystem() { c.fire() }

// watcher is the timer of a call on a clock other than the system's.
func (c *hedgedCall) watcher(t callguard.Timer) {
	defer close(c.wdone)
	for {
		select {
		case <-c.watch:
			t.Stop()
			return
		case <-t.C():
			if !c.fire() {
				return
			}
			t = c.h.clock.NewTimer(c.delay)
		}
	}
}

// fire starts a hedge, if the call still wants one and the budget allows
// it, and reports whether the timer should fire again; a system timer it
// resets itself.
func (c *hedgedCall) fire() (again bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.over || c.ctx.Err() != nil || !c.h.budget.take() {
		return false
	}
	if c.results == nil {
		c.results = make(chan *attempt, c.h.maxHedges)
	}
	a := c.newAttempt()
	c.inflight++
	go c.runAttempt(a)
	if c.h.onHedge != nil {
		c.h.onHedge(c.ctx, a.n)
	}
	again = len(c.attempts) <= c.h.maxHedges
	if again && c.timer != nil {
		c.timer.Reset(c.delay)
	}
	return again
}

// stopTimer stops the timer, or the watcher, for good. over is set: a fire
// already under way does nothing.
func (c *hedgedCall) stopTimer() {
	if c.timer != nil {
		c.timer.Stop()
		return
	}
	close(c.watch)
	<-c.wdone
}

// done records that a has returned. The first attempt to succeed or panic
// wins: it ends the starting of hedges and cancels the other attempts.
func (c *hedgedCall) done(a *attempt) {
	if a.err != nil && !a.panicked {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.winner != nil {
		return
	}
	c.winner, c.over = a, true
	for _, o := range c.attempts {
		if o != a {
			o.cancel(errLost)
		}
	}
}

// runFirst runs the first attempt on the calling goroutine.
func (c *hedgedCall) runFirst(a *attempt) {
	done := false
	defer func() {
		if !done {
			a.panicked, a.panicVal = true, recover()
		}
		c.done(a)
	}()
	a.err = c.next(a, c.call)
	done = true
}

// runAttempt runs a hedge and sends it on results, even if it panics.
func (c *hedgedCall) runAttempt(a *attempt) {
	done := false
	defer func() {
		if !done {
			a.panicked, a.panicVal = true, recover()
		}
		c.done(a)
		c.results <- a
	}()
	a.err = c.next(a, c.call)
	done = true
}

// wait returns, once the first attempt has returned, the attempt whose
// outcome the call returns: the winner, as soon as there is one, or the
// last to fail once every attempt has. It ends the starting of hedges.
func (c *hedgedCall) wait(first *attempt) *attempt {
	last := first
	for {
		c.mu.Lock()
		if c.winner != nil || c.inflight == 0 {
			c.over = true
			w := c.winner
			c.mu.Unlock()
			c.stopTimer()
			if w == nil {
				w = last
			}
			return w
		}
		results := c.results
		c.mu.Unlock()
		a := <-results
		c.mu.Lock()
		c.inflight--
		c.mu.Unlock()
		last = a // a failure, or the winner, seen at the top
	}
}

// finish cancels every attempt, waits for the hedges still running,
// records the kept one's latency if it succeeded, and releases the others'
// results. Hedges no longer start.
func (c *hedgedCall) finish(kept *attempt) {
	for _, a := range c.attempts {
		if a != kept {
			a.cancel(errLost)
		}
	}
	c.mu.Lock()
	n := c.inflight
	c.inflight = 0
	c.mu.Unlock()
	for range n {
		<-c.results
	}
	for _, a := range c.attempts {
		if a == kept {
			a.cancel(nil)
			continue
		}
		a.Discard()
	}
	if c.h.win != nil && kept.err == nil && !kept.panicked {
		c.h.win.add(c.h.clock.Now().Sub(kept.start))
	}
}
