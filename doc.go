// Package callguard keeps one failing service from taking down the services
// that call it.
//
// It holds the small types that every policy shares: [Handler], [Policy],
// [Chain] and the error classes by which policies talk to each other. The
// policies live in their own packages: timeout, retry, breaker, bulkhead,
// ttl and loadshed; the adapters httpx and grpcx plug
// a pipeline into net/http and gRPC clients and servers.
//
// # Composition
//
// [Chain] composes policies once, at construction; the first policy is the
// outermost, as with grpc-go's chained interceptors:
//
//	budget := retry.NewBudget() // one per process
//	p := callguard.Chain(
//		loadshed.NewThrottle(), // one per backend
//		retry.New(retry.WithBudget(budget)),
//		breaker.New(breaker.WithName("payments")),
//		bulkhead.New(64),
//		timeout.New(300*time.Millisecond),
//	)
//	err := p.Do(ctx, func(ctx context.Context) error { return callPayments(ctx) })
//
// runs throttle(retry(breaker(bulkhead(timeout(call))))). A call through
// the pipeline passes ctx and the call down as arguments, so composing
// allocates nothing.
//
// # Recommended order
//
// A client, from the outside in: an overall timeout (if any), throttle,
// retry, breaker, bulkhead, per-attempt timeout. A server: hop limit
// (ttl), load shedding (loadshed.Limiter), request timeout.
//
//   - An overall budget goes outside, so that it bounds every retry and wait.
//   - The throttle goes outside retry, one per backend: it counts calls and
//     the backend's refusals for load ([ErrOverloaded]), and rejects calls
//     locally in proportion once the backend refuses more than half of
//     them, retries included.
//   - retry goes outside breaker: each attempt passes the breaker, and an
//     attempt the open breaker rejects is not retried (it is an
//     [ErrOverloaded] without a delay), so retry never hammers an open circuit.
//   - breaker goes outside bulkhead: a full bulkhead is a local rejection
//     ([ErrRejected]), which the breaker does not count against the callee.
//   - The per-attempt timeout goes innermost, so that it times one attempt,
//     and the breaker counts a timed-out attempt as a failure.
//
// Each signal goes to the policy that acts on it. A callee that sheds
// calls (503 or 429 with a pushback, gRPC ResourceExhausted) is alive and
// overloaded: the throttle sends it less, retry does not retry without the
// callee's delay, and the breaker does not count it. A callee that is
// broken (refused or reset connections, timeouts, 5xx that are not
// refusals) opens the breaker. So a server's partial shedding can never
// become a full outage by the client's own hand.
//
// # Errors
//
// Policies decide by error class, matched with errors.Is and errors.As:
//
//   - [Permanent] marks an error that retrying cannot fix: never retried,
//     not a breaker failure.
//   - [ErrOverloaded] marks overload: the callee shed the call
//     ([OverloadedError], with an optional pushback delay) or a local policy
//     refused it ([ErrRejected]: breaker.ErrOpen, bulkhead.ErrFull). Retry
//     waits for the pushback delay when there is one and does not retry at
//     all when there is none; the breaker does not count it; a throttle
//     counts it as a refusal. Servers pass "overloaded: don't retry" on to
//     their own callers, so only the tier next to the fault retries.
//   - Cancellation by the caller is never a failure of the callee.
package callguard
