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
// outermost, as with grpc-go's chained interceptors: Chain(a, b).Do(ctx, f)
// runs a(b(f)). A call through the pipeline passes ctx and the call down
// as arguments, so composing allocates nothing. [Get] runs a call that
// returns a value, [GetOr] supplies one when the call fails.
//
// Package stack builds the recommended pipelines in one line each:
//
//	out := stack.Client(stack.WithName("payments")) // the calls a service makes
//	in := stack.Server("orders")                    // the requests it serves
//
// # Recommended order
//
// This table is the authoritative composition order; the policies' own
// docs and the README link to it. Outermost first:
//
//	client                         why there
//	1 timeout, WithOverall (opt.)  bounds every attempt and wait together
//	2 loadshed.NewThrottle()       one per backend; counts calls and the
//	                               backend's refusals for load, rejects
//	                               locally in proportion when it refuses
//	                               more than half
//	3 retry.New(WithBudget(b))     one budget per process; each attempt
//	                               passes the breaker; a refusal by the open
//	                               breaker is not retried
//	  hedge.New() (optional)       a second copy of a slow call that is safe
//	                               to repeat; each copy passes the breaker
//	4 breaker.New()                counts each attempt that reached a broken
//	                               callee; a full bulkhead or a shed call is
//	                               not a failure
//	5 bulkhead.New(64)             caps the calls in flight to the backend
//	6 timeout.New(300ms)           per attempt, innermost: it times one
//	                               attempt, and the breaker counts it
//
//	server                         why there
//	1 ttl.New(WithService(id))     refuses a call loop before any work
//	2 loadshed.New()               admits what the server can serve, sheds
//	                               the rest early ("overloaded, don't retry")
//	3 timeout.New(2s)              bounds the work of one request
//
// Each signal goes to the policy that acts on it. A callee that sheds
// calls (503 or 429 with a pushback, gRPC ResourceExhausted) is alive and
// overloaded: the throttle sends it less, retry does not retry without the
// callee's delay, and the breaker does not count it. A callee that is
// broken (refused or reset connections, timeouts, 5xx that are not
// refusals) opens the breaker. So a server's partial shedding can never
// become a full outage by the client's own hand.
//
// # Misuse
//
// A policy declares its [Role]; [CheckClient] and [CheckServer] refuse a
// pipeline that puts one on the wrong side or in the wrong order, with a
// [*MisuseError] that says where it belongs. The adapters and package stack
// call them when a pipeline is built and panic with the error, so a
// misplaced policy never reaches production silently:
//
//   - retry in a server pipeline: retries would multiply tier by tier;
//   - a loop check (ttl.TTL with a service id) in a client pipeline: it
//     checks inbound requests (a client uses ttl.NewGuard);
//   - a per-attempt timeout outside retry: it would bound all attempts
//     together (mark an overall one with timeout.WithOverall);
//   - an overall timeout inside retry, or a breaker outside it;
//   - a retry inside another retry: attempts multiply;
//   - a hedge outside retry, or in a server pipeline at all (it would run
//     the handler twice at once).
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
//   - [ErrDownstream] marks a callee's refusal that it passed on from its
//     own calls (a dependency that is down or refused it): not the callee's
//     load, so a throttle does not count it; the throttle next to the
//     dependency does.
//   - Cancellation by the caller is never a failure of the callee.
package callguard
