// Package stack builds the recommended pipelines by name: one line for a
// client's calls to a backend, one for a server's requests.
//
//	out := stack.Client(stack.WithName("payments"))
//	client := &http.Client{Transport: httpx.NewTransport(nil, out)}
//
//	in := stack.Server("orders")
//	srv := &http.Server{Handler: httpx.Handler(mux, in)}
//
// [Client] is, from the outside in,
//
//	callguard.Chain(
//		loadshed.NewThrottle(),              // one per backend: sends less when it sheds
//		retry.New(retry.WithBudget(budget)), // 3 attempts; budget shared by the process
//		breaker.New(),                       // counts attempts that reached a broken backend
//		bulkhead.New(64),                    // at most 64 calls in flight
//		timeout.New(300*time.Millisecond),   // per attempt
//	)
//
// and [Server] is
//
//	callguard.Chain(ttl.New(ttl.WithService(id)), loadshed.New(), timeout.New(2*time.Second))
//
// the composition table of package callguard explains the order. Options
// change the settings of each member (a [ClientOption] cannot be given to
// [Server], nor a [ServerOption] to [Client]); the members and their order
// stay. A pipeline of another shape is built with callguard.Chain, and
// callguard.CheckClient and CheckServer check it.
//
// Build one client pipeline per backend and keep it: the throttle and the
// breaker learn about that backend from every call through them.
package stack
