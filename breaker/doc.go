// Package breaker is a circuit breaker policy: it stops calling a
// dependency that keeps failing, so that callers fail fast instead of
// waiting on it and piling load onto it, and it probes the dependency after
// a while to find out whether it has recovered. It wraps
// github.com/sony/gobreaker/v2 without exposing it.
//
//	cb := breaker.New(breaker.WithName("payments"))
//	err := cb.Do(ctx, func(ctx context.Context) error { return callPayments(ctx) })
//	if errors.Is(err, breaker.ErrOpen) {
//		// payments is down; the call was not made
//	}
//
// # States
//
// A closed circuit lets calls through and counts their outcomes in a
// rolling window (10 s of 1 s buckets, [WithWindow]). It opens after 5
// consecutive failures ([WithConsecutiveFailures]) or when at least half of
// at least 20 calls in the window failed ([WithFailureRatio]). An open
// circuit rejects every call with [ErrOpen] for 5 s ([WithOpenTimeout]),
// then becomes half-open: it lets 1 probe call through
// ([WithHalfOpenProbes]) and rejects the rest; it closes when the probes
// succeed and opens again on the first probe that fails.
//
// # What counts as a failure
//
// An error or a panic from the call is a failure, a timeout included,
// except for the caller's cancellation, permanent errors
// ([callguard.Permanent]) and local rejections ([callguard.ErrRejected]),
// which count as neither success nor failure: they say nothing about the
// dependency's health. [WithIsFailure] narrows what is a failure further.
//
// # Composition
//
// A [Breaker] is a [callguard.Policy]. Place it inside retry and outside
// bulkhead and the per-attempt timeout:
//
//	callguard.Chain(retry.New(), breaker.New(), bulkhead.New(64), timeout.New(d))
//
// so that retry does not retry a rejection into the open circuit (ErrOpen is
// overloaded, without pushback), every attempt is counted, a timed-out
// attempt is a failure, and a full bulkhead (a rejection) is not.
//
// # Slow calls and switches
//
// [WithSlowCallThreshold] counts a call slower than a threshold as a
// failure, as resilience4j's slow-call rule. For incidents,
// [Breaker.ForceOpen] refuses every call and [Breaker.Disable] lets every
// call through uncounted, until [Breaker.Resume]; [Breaker.State] and the
// [OnStateChange] hook show [ForcedOpen] and [Disabled].
//
// # One breaker per host
//
// [Keyed] keeps a breaker per key (a host, a backend address), made on
// first use, with a bound on the number of keys and eviction of idle
// ones, so that one failing copy of a service opens its own circuit and a
// client-side balancer can skip it. [Breaker.Allow] is the two-step form
// for a balancer's picker, which learns an outcome in a callback (see
// package grpcx/breakerbalancer).
//
// # Time
//
// gobreaker reads the system clock. [WithClock] gives the breaker another
// clock for its open timeout and the slow-call rule, which the breaker
// keeps in its own code, so a test can move an open circuit to half-open
// by advancing a fake clock; the rolling window of the closed state still
// follows the system clock.
package breaker
