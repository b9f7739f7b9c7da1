package callguardtest

import (
	"fmt"
	"sync"
	"time"

	"github.com/callguard/callguard"
)

// A Clock is a fake [callguard.Clock]: its time moves only when [Clock.Advance]
// is called, and its timers fire then. Give it to a policy's WithClock
// option and a test can step through backoff waits, bulkhead waits,
// timeouts and budgets without sleeping. It is safe for concurrent use.
type Clock struct {
	mu     sync.Mutex
	cond   *sync.Cond // broadcast when a timer is added
	now    time.Time
	timers []*timer // not yet fired nor stopped
}

var _ callguard.Clock = (*Clock)(nil)

// Start is the instant at which every [NewClock] starts.
var Start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// NewClock returns a fake clock whose time is [Start].
func NewClock() *Clock {
	c := &Clock{now: Start}
	c.cond = sync.NewCond(&c.mu)
	return c
}

// Now returns the fake time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// NewTimer returns a timer that fires when the fake time reaches Now()+d.
// A timer with d ≤ 0 fires at once.
func (c *Clock) NewTimer(d time.Duration) callguard.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &timer{c: c, when: c.now.Add(d), ch: make(chan time.Time, 1)}
	if d <= 0 {
		t.ch <- c.now
		return t
	}
	c.timers = append(c.timers, t)
	c.cond.Broadcast()
	return t
}

// Advance moves the fake time forward by d and fires every timer that is
// due, in no particular order. Advance does not wait for the goroutines
// that receive from the timers.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.timers[:0]
	for _, t := range c.timers {
		if t.when.After(c.now) {
			kept = append(kept, t)
			continue
		}
		t.ch <- c.now
	}
	clear(c.timers[len(kept):])
	c.timers = kept
}

// Timers returns the number of timers waiting to fire.
func (c *Clock) Timers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// BlockUntil waits until at least n timers are waiting to fire: a test
// calls it to know that the code under test has started to wait, before it
// calls [Clock.Advance]. It panics after a minute of real time, so that a
// broken test fails instead of hanging.
func (c *Clock) BlockUntil(n int) {
	stop := time.AfterFunc(time.Minute, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.cond.Broadcast()
	})
	defer stop.Stop()
	deadline := time.Now().Add(time.Minute)
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.timers) < n {
		if time.Now().After(deadline) {
			panic(fmt.Sprintf("callguardtest: BlockUntil(%d): only %d timers after a minute", n, len(c.timers)))
		}
		c.cond.Wait()
	}
}

type timer struct {
	c    *Clock
	when time.Time
	ch   chan time.Time // buffered: Advance never blocks
}

func (t *timer) C() <-chan time.Time { return t.ch }

// Stop removes the timer; it reports whether the timer had yet to fire.
func (t *timer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	for i, x := range t.c.timers {
		if x == t {
			t.c.timers = append(t.c.timers[:i], t.c.timers[i+1:]...)
			return true
		}
	}
	return false
}
