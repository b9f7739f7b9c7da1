// Package observe reports what named policy instances do: events (retries,
// breaker transitions, refusals, give-ups, limit changes), the duration and
// outcome of every call, and their state (breaker state, limiter limit,
// in-flight calls, retry budget tokens), as structured logs, as a live
// status page, and to sinks such as the OpenTelemetry module
// (github.com/callguard/callguard/otelcallguard).
//
// It builds on the policies' public hooks and accessors; a policy built
// without the Observer's options and not wrapped by [Observer.Watch] runs
// exactly as before, at no cost. There is no global registry: a program
// makes an Observer and names each policy instance it wants to see.
//
//	o := observe.New(observe.WithLogger(slog.Default()))
//	budget := retry.NewBudget()
//	o.WatchBudget("payments", budget)
//	cb := breaker.New(o.Breaker("payments")...)
//	p := callguard.Chain(
//		o.Watch("payments", retry.New(append(o.Retry("payments"), retry.WithBudget(budget))...)),
//		o.Watch("payments", cb),
//		o.Watch("payments", bulkhead.New(64)),
//	)
//	admin.Handle("/callguard/", o.Handler()) // on an admin port only
//
// # Where each signal comes from
//
// The option constructors ([Observer.Breaker], [Observer.Retry],
// [Observer.Limiter]) set the policy's hook: breaker transitions, retries
// with their delay, limit changes. [Observer.Watch] wraps a policy: it
// times each call, classifies its error (a refusal of that policy, with a
// reason, or a failure), reads the request id and priority from the
// context, and gives snapshots access to the policy's accessors. A refusal
// is counted by the policy that refused, by kind: a breaker's refusal that
// passes through a watched retry is the breaker's, not the retry's.
//
// [Observer.Probe] reports the runs of a prober (package probe), the
// synthetic transactions a service sends through the system: each run's
// outcome, duration and request id, step by step, on the status page.
//
// # Names
//
// Kinds ([KindBreaker], ...), event types ([EventRetry], ...), refusal
// reasons ([ReasonOpen], ...) and log keys ([KeyName], ...) are a
// contract, listed in the golden file testdata/names.txt; a test fails
// when one changes without the list.
//
// # Cost
//
// A watched call reads the clock twice, adds to two atomic counters and
// hands one [Measurement] to each sink; the success path allocates
// nothing. Events, which are rare, take a lock.
package observe
