// Package bulkhead limits the number of concurrent calls to a dependency, so
// that one slow dependency cannot tie up every goroutine, connection or
// thread of the process that calls it.
//
// A [Bulkhead] admits at most n calls at a time. A call that finds every
// slot taken is refused at once with [ErrFull], or, with [WithMaxWait],
// waits a bounded time for a slot to free, in a queue of bounded length
// ([WithMaxQueue]):
//
//	b := bulkhead.New(64, bulkhead.WithMaxWait(10*time.Millisecond))
//	err := b.Do(ctx, func(ctx context.Context) error {
//		return callPayments(ctx)
//	})
//	if errors.Is(err, bulkhead.ErrFull) {
//		// refused locally: the call never reached the dependency
//	}
//
// # Composition
//
// A Bulkhead is a [callguard.Policy]. In a client's pipeline it goes inside
// retry and the breaker, outside the per-attempt timeout (the composition
// table is in the doc of package callguard; stack.Client builds it):
//
//	callguard.Chain(throttle, retry, breaker, bulkhead, timeout)
//
// so that the bulkhead holds a slot for one attempt at a time (retry is
// outside it and does not hold a slot while it backs off), a call refused by
// an open breaker never takes a slot, and the per-attempt timeout inside it
// bounds how long a slot is held.
//
// # Errors
//
// [ErrFull] matches [callguard.ErrRejected] and [callguard.ErrOverloaded]:
// the call was refused before it ran, so a breaker does not count it as a
// failure of the callee and retry does not retry it (no pushback delay).
// When the caller's context ends while a call waits for a slot, Do returns
// ctx.Err().
//
// # Panics
//
// A slot is released when the call returns, also when it panics: Do
// releases its slot in a deferred call and lets the panic go on up.
//
// # Implementation
//
// The slot count is an atomic counter: taking and returning a slot on the
// success path is one compare-and-swap and one add, with no lock and no
// allocation. Callers that wait queue in FIFO order behind a mutex; a
// returned slot is handed to the longest waiter, and new callers do not
// overtake waiters; a wait costs one waiter, one channel and one timer. The
// queue is a doubly linked list, so a waiter whose wait ends or whose caller
// gives up leaves it in constant time, however long it is. A buffered
// channel used as a counting semaphore (as in errgroup) is simpler but
// measured about twice as slow on the success path, and slower still under
// contention; see BenchmarkChanSemaphore.
package bulkhead
