// Package loadshed sheds load early, at each tier, instead of letting
// every tier queue and retry it: an adaptive concurrency limit with
// priorities for servers ([Limiter]), client-side adaptive throttling
// ([Throttle]), and rate limits ([RateLimit], [KeyedRateLimit]).
//
//	lim := loadshed.New() // adaptive (Gradient), limit 20 in [3, 1000]
//	err := lim.Do(ctx, func(ctx context.Context) error {
//		return serve(ctx)
//	})
//	if errors.Is(err, loadshed.ErrShed) {
//		// refused: the adapters answer 503 with "Callguard-Pushback: -1"
//	}
//
// # Composition
//
// Every type here is a [callguard.Policy]. On a server, put the limiter
// after the hop check and before the per-request timeout:
//
//	callguard.Chain(ttl.New(…), loadshed.New(), timeout.New(2*time.Second))
//
// On a client, put one [Throttle] per backend outside retry, so that a
// backend that rejects most calls sees fewer of them, retries included:
//
//	callguard.Chain(loadshed.NewThrottle(), retry, breaker, bulkhead, timeout)
//
// stack.Client and stack.Server build both pipelines; the composition table
// is in the doc of package callguard.
//
// # Adaptive limit
//
// A [Limiter] admits a request while the calls in flight are below its
// limit, and measures how long each admitted call takes. Once per sampling
// window (at least 100ms and 10 calls) it recomputes the limit with
// [Gradient], after Envoy's adaptive concurrency filter: it compares the
// window's latency with the service's latency when nothing queues (the
// minimum RTT, which it measures by dropping the limit to its floor for a
// moment at start and about every 30s), grows the limit while the two are
// close and cuts it when queueing begins, so that admitted calls under
// overload wait about one service time, not until their callers give up.
// Calls that time out ([Dropped]), or whose callers left after waiting
// more than twice the usual latency ([Canceled]), cut it by 10%.
// [Gradient2] (the default until its limit was seen to creep up under a
// sustained overload) and the loss-based [AIMD] are the alternatives,
// [WithFixedLimit] a fixed limit. The hot path is lock-free: [Limiter.Acquire] and [Token.Release]
// are a few atomic operations and two clock reads, with no allocation, and
// so is a refusal unless [WithPushback] asks for a delay.
//
// # Priorities
//
// A request's [Priority] comes from its context ([NewContext]); the
// adapters set it from the Callguard-Priority header or callguard-priority
// metadata of trusted callers. Two rules rank them:
//
//   - each priority may fill a share of the limit ([WithShare]): sheddable
//     requests half, default ones three quarters, critical ones all of it,
//     so room stays free for critical requests;
//   - while requests of a priority are being refused (in this sampling
//     window or the last one), every lower priority is refused too, so no
//     capacity a more important request was denied goes to a less
//     important one.
//
// So under overload sheddable requests are refused first and critical
// ones last. The shares cost no throughput: with sheddable traffic alone
// the adaptive limit grows until half of it fills the service
// (TestOverloadAlone: 99.6% of capacity at twice the load). In
// TestPriorityOverload a simulated service, a pool of 10 workers, is
// offered twice its capacity, half of it critical, at random: 94.0–94.6%
// of the critical requests succeed (seeds 1–6) with a p99 latency of 2.3–2.4
// service times, against 0.6% without the limiter, where every request
// waits in the service's queue until its caller gives up. Critical load
// alone is the whole capacity there, so what critical requests lose is the
// idle time the random arrivals leave under a limit that keeps the queue
// short, and what sheddable ones get (about 1%). On the fixed schedule of
// the load harness (loadtest/), 97.6–99.6% of them succeed.
//
// # Retries and hedges
//
// A retry or a hedge is repeated work: its caller has sent the request
// before, and an overloaded server that refuses it loses the least. The
// adapters read its number from Callguard-Attempt (callguard-attempt) into
// [callguard.InboundAttempt]; within its priority a [Limiter] ranks it below
// the first attempts: it may fill 90% of its priority's room
// ([WithRetryShare]), and it is refused while first attempts of its
// priority or a higher one are being refused. So under overload retries and
// hedges are shed before any first attempt of their priority, which also
// keeps a retry storm from crowding out new work. An Edge server ignores
// its clients' attempt numbers.
//
// # Waiting
//
// By default a request that finds no slot is refused at once: a queue in
// front of an overloaded service only adds latency. [WithMaxWait] allows a
// short wait, for bursts, in a queue bounded by [WithMaxQueue] (by default
// as long as the limit). Waiters are served by priority, and within a
// priority in arrival order; a full queue refuses a newcomer, or evicts the
// oldest waiter of a lower priority for it. The wait follows CoDel (RFC
// 8289, and Facebook's RPC queues in "Fail at scale"): once the queue has
// not been empty for 100ms it is standing, which means overload, not a
// burst, and new waiters wait at most 5ms. TestQueueOrder measured the
// choice at twice the capacity with a 50ms max wait: plain FIFO kept the
// most critical requests (97.6%) but raised the median latency by a third
// (p50 28ms against 21ms), plain LIFO starved old waiters into their callers'
// timeouts (critical 95.7% with 40ms client timeouts), and LIFO on top of
// CoDel changed little (p99 48ms against 39ms with 100ms client timeouts,
// 34ms against 37ms with 40ms); CoDel with FIFO held 96.5–96.9% of the
// critical requests, p50 18–21ms, p99 37–39ms. The queue smooths bursts;
// under sustained overload no queue does better (p99 28ms).
//
// # Deadlines
//
// [WithMinServiceTime] and [WithLearnedServiceTime] refuse at admission,
// before it takes a slot, a request whose context's deadline leaves less
// time than the service needs: its work would be wasted. The refusal is
// [ErrDeadline], which matches [context.DeadlineExceeded] (HTTP 504, gRPC
// DeadlineExceeded), not [ErrShed]: the caller's budget is too short, the
// server is not overloaded.
//
// # Client-side throttling
//
// A [Throttle] implements the adaptive throttling of the Google SRE book:
// a client that sees a backend reject most of its calls rejects calls
// locally, with probability max(0, (requests − K·accepts)/(requests + 1)),
// so the backend receives about K (2) times what it accepts. Its history
// is a 10s window, where the book keeps two minutes, because the time to
// recover after a total outage grows with the window. In
// TestThrottleRecovers, at 100 calls per second to a backend that rejects
// everything, 0.03% of the calls reach it (2 a minute); once it heals,
// half the calls pass after 42s and all after 47s, against 10 and 11
// minutes with a two-minute window.
//
// # Rate limits
//
// [RateLimit] and [KeyedRateLimit] are token buckets from
// golang.org/x/time/rate, global or per key (client, tenant), for callers
// that need a hard rate. A call over the rate is refused at once with the
// time until a token is free as its pushback, or waits for it up to
// [WithMaxWait]. The keyed variant keeps a bounded number of keys, least
// recently used out.
//
// # Errors
//
// Every refusal matches [ErrShed], [callguard.ErrOverloaded] and
// [callguard.ErrRejected]: the call never ran, breakers do not count it,
// and callers do not retry it unless it carries a pushback delay, which a
// [*ShedError] does. The limiter's refusals carry none by default ("do not
// retry": the tier next to the overloaded one decides); the rate limits'
// carry the time until a token is free.
package loadshed
