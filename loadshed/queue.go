package loadshed

import (
	"context"
	"slices"
	"time"
)

// A queueMode orders waiters within a priority and bounds their wait. The
// default is codelFIFO; the others are kept for TestQueueOrder, which
// measured the choice.
type queueMode uint8

const (
	codelFIFO queueMode = iota // FIFO; at most codelTarget while the queue stands
	codelLIFO                  // as codelFIFO, and LIFO while the queue stands
	modeLIFO                   // always LIFO, max wait
	modeFIFO                   // always FIFO, max wait
)

// CoDel's parameters (RFC 8289; Facebook's "Fail at scale" uses the same
// for its RPC queues): a queue that has not been empty for codelInterval
// is standing, and its waiters wait at most codelTarget.
const (
	codelInterval = 100 * time.Millisecond
	codelTarget   = 5 * time.Millisecond
)

// A waiter is a request queued for a slot. admitted and evicted are set,
// with l.mu held, before ready is closed.
type waiter struct {
	ready    chan struct{}
	p        Priority
	admitted bool // a slot was taken for it
}

// wait queues a request of priority p for at most l.maxWait.
//
// A waiter increments l.waiting, with l.mu held, before its first try for
// a slot, and a release decrements l.inflight before it reads l.waiting,
// so either the waiter sees the freed slot or the release sees the waiter
// and hands the slot off: no wakeup is lost.
func (l *Limiter) wait(ctx context.Context, p Priority) (Token, error) {
	l.mu.Lock()
	if l.full() && !l.evictBelow(p) {
		l.mu.Unlock()
		return Token{}, l.refuse(ctx, p, ReasonQueueFull)
	}
	maxWait := l.maxWait
	if l.queueMode <= codelLIFO && l.standing() {
		maxWait = min(maxWait, codelTarget)
	}
	w := &waiter{ready: make(chan struct{}), p: p}
	l.queue[rank(p)] = append(l.queue[rank(p)], w)
	l.waiting.Add(1)
	l.handOffLocked()
	admitted := w.admitted
	l.mu.Unlock()
	if admitted {
		return l.token(p, l.inflight.Load()), nil
	}

	t := l.clock.NewTimer(maxWait)
	defer t.Stop()
	select {
	case <-w.ready:
	case <-t.C():
		if l.dequeue(w) {
			return Token{}, l.refuse(ctx, p, ReasonQueueTimeout)
		}
	case <-ctx.Done():
		if !l.dequeue(w) && w.admitted {
			Token{l: l}.Release(Ignored) // handed a slot as the caller gave up
		}
		return Token{}, ctx.Err()
	}
	if !w.admitted {
		return Token{}, l.refuse(ctx, p, ReasonQueueFull) // evicted by a higher priority
	}
	return l.token(p, l.inflight.Load()), nil
}

// standing reports whether the queue has not been empty for
// codelInterval. It requires that l.mu is held.
func (l *Limiter) standing() bool {
	now := l.nanotime()
	if l.waiting.Load() == 0 {
		l.emptyAt = now
	}
	return now-l.emptyAt > int64(codelInterval)
}

// full reports whether the queue holds as many waiters as it may. It
// requires that l.mu is held.
func (l *Limiter) full() bool {
	n := l.maxQueue
	if n == 0 {
		n = int(l.limit.Load())
	}
	return int(l.waiting.Load()) >= n
}

// evictBelow makes room for a waiter of priority p by refusing the oldest
// waiter of the lowest priority below p, and reports whether there was
// one. It requires that l.mu is held.
func (l *Limiter) evictBelow(p Priority) bool {
	for i := range rank(p) {
		if q := l.queue[i]; len(q) > 0 {
			close(q[0].ready) // not admitted: evicted
			l.queue[i] = slices.Delete(q, 0, 1)
			l.waiting.Add(-1)
			return true
		}
	}
	return false
}

// dequeue removes w from the queue and reports whether it was there.
func (l *Limiter) dequeue(w *waiter) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	q := l.queue[rank(w.p)]
	if i := slices.Index(q, w); i >= 0 {
		l.queue[rank(w.p)] = slices.Delete(q, i, i+1)
		l.waiting.Add(-1)
		return true
	}
	return false
}

func (l *Limiter) handOff() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.handOffLocked()
}

// handOffLocked gives free slots to waiters: critical first, and within a
// priority the oldest first (in the default mode). The bounds grow with
// the priority, so when a priority gets no slot, no lower one does. It
// requires that l.mu is held.
func (l *Limiter) handOffLocked() {
	lifo := l.queueMode == modeLIFO || l.queueMode == codelLIFO && l.standing()
	for i := len(l.queue) - 1; i >= 0; i-- {
		for len(l.queue[i]) > 0 {
			if _, ok := l.take(Priority(i - 1)); !ok {
				return
			}
			q := l.queue[i]
			j := 0
			if lifo {
				j = len(q) - 1
			}
			w := q[j]
			l.queue[i] = slices.Delete(q, j, j+1)
			l.waiting.Add(-1)
			w.admitted = true
			close(w.ready)
		}
	}
}
