// Package probe runs synthetic transactions: fake user requests that a
// service sends through the system on a schedule, in production, to learn
// that a path is broken before a user does (SRE book, "black-box
// monitoring"; Google calls them probers).
//
// A [Prober] runs a script of named [Step]s, each a call such as an HTTP
// request ([HTTP]) or any func(ctx) error, one after the other, every
// interval with jitter. Each run gets a context that is marked synthetic
// ([callguard.ContextWithSynthetic]) and carries a fresh request id
// ([callguard.ContextWithRequestID]); httpx and grpcx carry both to every
// service the run reaches, so that each can keep the run out of its
// business metrics and skip its side effects ([callguard.IsSynthetic]),
// and its logs join on the id. The run's [Result], success and latency of
// each step with the request id, goes to the [OnResult] hooks; package
// observe shows the last result of each prober on its status page
// (observe.Observer.Probe).
//
//	p := probe.New("checkout", []probe.Step{
//		probe.HTTP("browse", client, http.MethodGet, api+"/catalog", nil),
//		probe.HTTP("buy", client, http.MethodPost, api+"/checkout", order),
//	}, probe.WithInterval(30*time.Second), o.Probe("checkout"))
//	p.Start()
//	defer p.Stop()
//
// # Where a prober runs
//
// The synthetic mark is trusted only from inside the system: a server
// built with httpx.Edge or grpcx.Edge drops it from its callers, so that
// no outside client can hide its requests from the metrics. A prober
// therefore runs inside, next to the services, and calls the first tier
// behind the edge; or the Edge server recognises it and marks its
// requests itself (httpx.WithSynthetic, grpcx.WithSynthetic: by a client
// certificate, an address, a secret header). Otherwise a run that enters
// through an Edge server is an ordinary request for every tier.
//
// # Schedule
//
// [Prober.Start] runs the script at once, then again each interval
// after the previous run ended, the interval moved by a random jitter
// ([WithJitter]), so that the probers of many instances of a service do
// not call in step. Runs never overlap. A run ends at the first step that
// fails (the steps of a transaction depend on each other: no checkout
// after a failed login); the steps after it are reported as skipped. Each
// run is bounded by [WithTimeout]. [Prober.Stop] cancels a run in flight
// and returns once the prober's goroutine has ended.
package probe
