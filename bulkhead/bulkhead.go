package bulkhead

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/internal/clock"
)

// A Bulkhead limits concurrent calls to a dependency. It is safe for
// concurrent use. The zero value is not usable; create one with [New].
type Bulkhead struct {
	limit    int64
	maxWait  time.Duration
	maxQueue int
	onFull   func(context.Context)
	clock    clock.Clock

	held    atomic.Int64 // slots taken, by running calls and by TryAcquire
	waiting atomic.Int64 // callers in wait, queued or about to be; changes only with mu held

	mu    sync.Mutex
	queue waitQueue // waiters in arrival order; closing one's ready hands it a slot
}

// A waiter is a caller queued for a slot. Its links belong to the queue
// that holds it and are read and written only with the Bulkhead's mu held.
type waiter struct {
	ready      chan struct{}
	prev, next *waiter
	queued     bool
}

// A waitQueue is a doubly linked FIFO list of waiters, so that a waiter
// that gives up leaves it in constant time wherever it stands.
type waitQueue struct {
	head, tail *waiter
	len        int
}

// push adds w at the back of q.
func (q *waitQueue) push(w *waiter) {
	w.prev, w.next, w.queued = q.tail, nil, true
	if q.tail != nil {
		q.tail.next = w
	} else {
		q.head = w
	}
	q.tail = w
	q.len++
}

// remove takes w, which q holds, out of q.
func (q *waitQueue) remove(w *waiter) {
	if w.prev != nil {
		w.prev.next = w.next
	} else {
		q.head = w.next
	}
	if w.next != nil {
		w.next.prev = w.prev
	} else {
		q.tail = w.prev
	}
	w.prev, w.next, w.queued = nil, nil, false
	q.len--
}

var _ callguard.Policy = (*Bulkhead)(nil)

// New returns a Bulkhead that admits at most n concurrent calls.
//
// It panics with "bulkhead: limit must be >= 1, got …" if n < 1, with
// "bulkhead: max wait must be >= 0, got …" if [WithMaxWait] is negative,
// and with "bulkhead: max queue must be >= 0, got …" if [WithMaxQueue] is.
func New(n int, opts ...Option) *Bulkhead {
	if n < 1 {
		panic(fmt.Sprintf("bulkhead: limit must be >= 1, got %d", n))
	}
	o := options{maxQueue: defaultMaxQueue, clock: clock.Real}
	for _, opt := range opts {
		opt.apply(&o)
	}
	if o.maxWait < 0 {
		panic(fmt.Sprintf("bulkhead: max wait must be >= 0, got %v", o.maxWait))
	}
	if o.maxQueue < 0 {
		panic(fmt.Sprintf("bulkhead: max queue must be >= 0, got %d", o.maxQueue))
	}
	return &Bulkhead{limit: int64(n), maxWait: o.maxWait, maxQueue: o.maxQueue, onFull: o.onFull, clock: o.clock}
}

// Do calls fn when a slot is free, waiting at most the configured time (see
// [WithMaxWait]), and returns what fn returns. It returns [ErrFull] without
// calling fn when no slot frees up in time or the wait queue is full (see
// [WithMaxQueue]), and ctx.Err() without calling fn
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

// wait queues the caller for a slot for at most b.maxWait, unless b.maxQueue
// callers wait already.
//
// A waiter increments b.waiting before its last attempt to take a slot, and
// Release decrements b.held before it reads b.waiting, so either the waiter
// sees the freed slot or Release sees the waiter and hands the slot off:
// no wakeup is lost.
func (b *Bulkhead) wait(ctx context.Context) error {
	b.mu.Lock()
	b.waiting.Add(1)
	if b.queue.len == 0 && b.take() {
		b.waiting.Add(-1)
		b.mu.Unlock()
		return nil
	}
	if b.queue.len >= b.maxQueue {
		b.waiting.Add(-1)
		b.mu.Unlock()
		b.full(ctx)
		return ErrFull
	}
	w := &waiter{ready: make(chan struct{})}
	b.queue.push(w)
	b.mu.Unlock()

	t := b.clock.NewTimer(b.maxWait)
	defer t.Stop()
	select {
	case <-w.ready:
		return nil
	case <-t.C():
		if !b.dequeue(w) {
			return nil // handOff gave us a slot as the wait ended: keep it
		}
		b.full(ctx)
		return ErrFull
	case <-ctx.Done():
		if !b.dequeue(w) {
			b.Release() // handOff gave us a slot as the caller gave up
		}
		return ctx.Err()
	}
}

// dequeue removes w from the queue and reports whether it was there.
func (b *Bulkhead) dequeue(w *waiter) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !w.queued {
		return false
	}
	b.queue.remove(w)
	b.waiting.Add(-1)
	return true
}

// handOff gives free slots to waiters, longest waiting first.
func (b *Bulkhead) handOff() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for b.queue.head != nil && b.take() {
		w := b.queue.head
		b.queue.remove(w)
		close(w.ready)
		b.waiting.Add(-1)
	}
}
