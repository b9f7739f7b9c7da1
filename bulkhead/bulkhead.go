package bulkhead

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/internal/clock"
)

// A Bulkhead limits concurrent calls to a dependency. It is safe for
// concurrent use. The zero value is not usable; create one with [New].
type Bulkhead struct {
	limit   int64
	maxWait time.Duration
	onFull  func(context.Context)
	clock   clock.Clock

	held    atomic.Int64 // slots taken, by running calls and by TryAcquire
	waiting atomic.Int64 // callers in wait, queued or about to be; changes only with mu held

	mu    sync.Mutex
	queue []chan struct{} // waiters in arrival order; closing one hands it a slot
}

var _ callguard.Policy = (*Bulkhead)(nil)

// New returns a Bulkhead that admits at most n concurrent calls.
//
// It panics with "bulkhead: limit must be >= 1, got …" if n < 1, and with
// "bulkhead: max wait must be >= 0, got …" if [WithMaxWait] is negative.
func New(n int, opts ...Option) *Bulkhead {
	if n < 1 {
		panic(fmt.Sprintf("bulkhead: limit must be >= 1, got %d", n))
	}
	o := options{clock: clock.Real}
	for _, opt := range opts {
		opt.apply(&o)
	}
	if o.maxWait < 0 {
		panic(fmt.Sprintf("bulkhead: max wait must be >= 0, got %v", o.maxWait))
	}
	return &Bulkhead{limit: int64(n), maxWait: o.maxWait, onFull: o.onFull, clock: o.clock}
}

// Do calls fn when a slot is free, waiting at most the configured time (see
// [WithMaxWait]), and returns what fn returns. It returns [ErrFull] without
// calling fn when no slot frees up in time, and ctx.Err() without calling fn
// when ctx is done before a slot is taken. The slot is released when fn
// returns or panics.
func (b *Bulkhead) Do(ctx context.Context, fn func(context.Context) error) error {
	return b.run(ctx, fn, callguard.Invoke)
}

// Wrap returns a handler that runs next under the bulkhead, as [Bulkhead.Do]
// runs fn.
func (b *Bulkhead) Wrap(next callguard.Handler) callguard.Handler {
	return func(ctx context.Context, call func(context.Context) error) error {
		return b.run(ctx, call, next)
	}
}

// run calls next with call once it holds a slot.
func (b *Bulkhead) run(ctx context.Context, call func(context.Context) error, next callguard.Handler) error {
	if err := b.acquire(ctx); err != nil {
		return err
	}
	defer b.Release()
	return next(ctx, call)
}

// TryAcquire takes a slot if one is free now and reports whether it did. It
// never waits, and it does not take a slot ahead of callers already waiting
// in Do. It is for adapters that cannot run the call inside [Bulkhead.Do]
// (a stream that outlives the handler, for example).
//
// Each TryAcquire that returns true must be paired with exactly one
// [Bulkhead.Release], usually deferred, once the work is done; a slot that is
// never released is lost for good. TryAcquire that returns false takes
// nothing and must not be paired with Release.
func (b *Bulkhead) TryAcquire() bool {
	if b.waiting.Load() == 0 && b.take() {
		return true
	}
	b.full(context.Background())
	return false
}

// Release returns a slot taken by a successful [Bulkhead.TryAcquire]. It
// panics with "bulkhead: released more than held" if no slot is held.
func (b *Bulkhead) Release() {
	if b.held.Add(-1) < 0 {
		b.held.Add(1)
		panic("bulkhead: released more than held")
	}
	if b.waiting.Load() != 0 {
		b.handOff()
	}
}

// InFlight returns the number of slots taken now.
func (b *Bulkhead) InFlight() int { return int(b.held.Load()) }

// Limit returns the maximum number of concurrent calls, n of [New].
func (b *Bulkhead) Limit() int { return int(b.limit) }

// acquire takes a slot for one call, or returns why it did not.
func (b *Bulkhead) acquire(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if b.waiting.Load() == 0 && b.take() {
		return nil
	}
	if b.maxWait == 0 {
		b.full(ctx)
		return ErrFull
	}
	return b.wait(ctx)
}

// take takes a slot if one is free, ignoring waiters.
func (b *Bulkhead) take() bool {
	for {
		n := b.held.Load()
		if n >= b.limit {
			return false
		}
		if b.held.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

func (b *Bulkhead) full(ctx context.Context) {
	if b.onFull != nil {
		b.onFull(ctx)
	}
}

// wait queues the caller for a slot for at most b.maxWait.
//
// A waiter increments b.waiting before its last attempt to take a slot, and
// Release decrements b.held before it reads b.waiting, so either the waiter
// sees the freed slot or Release sees the waiter and hands the slot off:
// no wakeup is lost.
func (b *Bulkhead) wait(ctx context.Context) error {
	b.mu.Lock()
	b.waiting.Add(1)
	if len(b.queue) == 0 && b.take() {
		b.waiting.Add(-1)
		b.mu.Unlock()
		return nil
	}
	ready := make(chan struct{})
	b.queue = append(b.queue, ready)
	b.mu.Unlock()

	t := b.clock.NewTimer(b.maxWait)
	defer t.Stop()
	select {
	case <-ready:
		return nil
	case <-t.C():
		if !b.dequeue(ready) {
			return nil // handOff gave us a slot as the wait ended: keep it
		}
		b.full(ctx)
		return ErrFull
	case <-ctx.Done():
		if !b.dequeue(ready) {
			b.Release() // handOff gave us a slot as the caller gave up
		}
		return ctx.Err()
	}
}

// dequeue removes ready from the queue and reports whether it was there.
func (b *Bulkhead) dequeue(ready chan struct{}) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, r := range b.queue {
		if r == ready {
			b.queue = slices.Delete(b.queue, i, i+1)
			b.waiting.Add(-1)
			return true
		}
	}
	return false
}

// handOff gives free slots to waiters, longest waiting first.
func (b *Bulkhead) handOff() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for len(b.queue) > 0 && b.take() {
		close(b.queue[0])
		b.queue[0] = nil
		b.queue = b.queue[1:]
		b.waiting.Add(-1)
	}
}
