package bulkhead

import (
	"context"
	"time"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/internal/clock"
)

// An Option configures a [Bulkhead].
type Option interface{ apply(*options) }

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

type options struct {
	maxWait  time.Duration
	maxQueue int
	onFull   func(context.Context)
	clock    clock.Clock
}

// WithMaxWait sets how long [Bulkhead.Do] waits for a free slot before it
// returns [ErrFull]. Zero, the default, means no waiting: a call that finds
// every slot taken is refused at once, which keeps queues out of the call
// path (a queue in front of a slow dependency only adds latency). A small
// wait smooths short bursts. New panics if d is negative.
func WithMaxWait(d time.Duration) Option {
	return optionFunc(func(o *options) { o.maxWait = d })
}

// defaultMaxQueue is the default of [WithMaxQueue].
const defaultMaxQueue = 1024

// WithMaxQueue sets how many callers may wait for a slot at once (see
// [WithMaxWait]); a call that would be one more is refused at once with
// [ErrFull]. The default is 1024. Zero means that no caller waits, as with
// no wait at all. The bound keeps a stalled dependency from piling up
// waiting goroutines without limit. New panics if n is negative.
func WithMaxQueue(n int) Option {
	return optionFunc(func(o *options) { o.maxQueue = n })
}

// OnFull sets a function that is called each time the bulkhead refuses a
// call: when [Bulkhead.Do] returns [ErrFull], with the call's context (and
// so its request id, see [callguard.RequestIDFromContext]), and when
// [Bulkhead.TryAcquire] returns false, with [context.Background]. It runs
// synchronously on the caller's goroutine, so it must be fast and safe for
// concurrent use (increment a counter, for example). The default, nil,
// means no hook.
func OnFull(fn func(ctx context.Context)) Option {
	return optionFunc(func(o *options) { o.onFull = fn })
}

// WithClock sets the clock whose timers bound the wait of [WithMaxWait]. A
// test passes a fake clock (package callguardtest) and advances it instead
// of sleeping. The default, and nil, is [callguard.SystemClock].
func WithClock(c callguard.Clock) Option {
	if c == nil {
		c = callguard.SystemClock
	}
	return optionFunc(func(o *options) { o.clock = c })
}
