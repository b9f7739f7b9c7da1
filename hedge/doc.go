// Package hedge is a hedged-request policy: when a call has had no answer
// for a while, it sends a copy of it (a hedge) and takes the first success,
// as The Tail at Scale (Dean and Barroso, 2013) describes. A few percent
// more calls cut the tail of the latency that one slow copy of a service,
// a garbage collection or a lost packet cause.
//
//	h := hedge.New() // after the p95 latency, within 5% extra calls
//	err := h.Do(callguard.ContextSafe(ctx), func(ctx context.Context) error {
//		return getProfile(ctx, id) // safe to repeat: a read
//	})
//
// # Which calls
//
// A hedge sends the call again while the first copy may still be at work,
// so only calls that are safe to repeat may be hedged: reads, and writes
// made idempotent by the callee (an idempotency key). The Hedger hedges a
// call only when its [WithSafe] predicate says so; by default, when the
// call's context was marked with [callguard.ContextSafe]. Other calls run once, on
// the calling goroutine, and allocate nothing.
//
// The adapters mark their calls themselves, and unmark the others
// ([callguard.ContextUnsafe]): httpx.NewTransport, when its policy holds a
// Hedger, marks the requests that httpx.Hedgeable accepts (idempotent
// methods, or an Idempotency-Key, with a replayable body); grpcx marks
// the unary calls of the methods declared with grpcx.WithIdempotent or
// made with grpcx.Idempotent. Each copy carries its number to the server
// (Callguard-Attempt), whose limiter sheds it before first attempts.
//
// # Delay, limits and budget
//
// A hedge starts when the call has had no success for the delay: fixed
// ([WithDelay]) or, by default, the 95th percentile of recent latencies
// ([WithQuantile]), measured online over a bounded window. A call sends at
// most one hedge by default ([WithMaxHedges]); a budget ([WithBudget])
// caps the hedges at 5% of calls plus a burst of 10, so that a slow
// dependency is not sent twice its load when everything is slow.
//
// The first attempt to succeed wins. The others are cancelled (their
// context's cause says that another attempt answered first) and the
// Hedger waits for them to return: no goroutine outlives the call. An
// attempt that fails does not end the call while another is running; a
// hedge does not retry a failure, that is retry's job.
//
// # Results of the losers
//
// The policy sees only errors; an adapter that keeps a result per attempt
// (an HTTP response) registers, from within the attempt, a function that
// releases it with [callguard.OnDiscard]: it is called for every attempt whose
// result the call does not return, so that the loser's body is drained and
// closed. [Attempt] gives an attempt's number among the Hedger's;
// [callguard.Attempt] its number within the call, retries included, which
// the adapters send to the server (Callguard-Attempt) so that an
// overloaded server sheds hedges before first attempts.
//
// # Composition
//
// A [Hedger] is a [callguard.Policy]. Place it inside retry and outside
// breaker, bulkhead and the per-attempt timeout:
//
//	callguard.Chain(retry.New(), hedge.New(), breaker.New(), bulkhead.New(64), timeout.New(d))
//
// so that each copy passes the breaker and the bulkhead and is timed on
// its own, a full bulkhead or an open breaker refuses a hedge without
// failing the first copy, the cancelled losers count as neither success
// nor failure in the breaker (cancellation is excluded), and retry retries
// the call as a whole when every copy failed. Outside retry, a hedge would
// start a second round of retries.
package hedge
