// Package chaos injects faults into calls on purpose, to show that the
// rest of a pipeline and the code around it handle them: errors, latency
// and refusals for load, each at a configured rate. It follows Polly's
// Simmy: a [Chaos] is an ordinary policy, off until switched on, so it can
// stay in production code behind a switch and be turned on for a game day
// or in a staging environment.
//
//	monkey := chaos.New(
//		chaos.WithError(0.05, nil),                    // 5% fail with chaos.ErrInjected
//		chaos.WithLatency(0.10, 200*time.Millisecond), // 10% wait 200ms first
//		chaos.WithRefusal(0.05, 0),                    // 5% shed: overloaded, don't retry
//	)
//	p := callguard.Chain(throttle, retry, breaker, bulkhead, attemptTimeout, monkey)
//	monkey.Enable() // from a flag or an admin endpoint; Disable turns it off
//
// Placed innermost in a client's pipeline, a Chaos stands for a failing
// dependency: retry, the breaker, the throttle and the timeout see its
// faults as they would see the dependency's. Placed in a server's pipeline,
// it makes the service itself fail for its callers.
//
// While it is off, and for calls it draws no fault for, a Chaos costs an
// atomic load and a few random draws, and allocates nothing.
package chaos
