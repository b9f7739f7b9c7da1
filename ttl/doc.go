// Package ttl stops call loops and runaway call depth between services.
//
// In a graph of services a cycle (A→B→C→A) is a distributed stack overflow:
// each pass costs every service on the loop, until something times out.
// ttl bounds it two ways, as IP's TTL and SIP's Max-Forwards do:
//
//   - Hop budget. A request carries how many more calls deep it may go
//     (Callguard-Hops, default [DefaultHops]). Each outgoing call spends one;
//     a call with none left fails with [ErrExhausted] before it is sent.
//   - Call path. A request carries the ids of the services it passed
//     through (Callguard-Path). A service that finds its own id in an
//     inbound path refuses the request at once with a [*LoopError] that
//     names the whole loop: orders → billing → ledger → orders.
//
// Both errors are permanent: never retried, never counted by a breaker.
// Servers answer them with HTTP 508 Loop Detected or gRPC
// FailedPrecondition, and Callguard-Error: loop or hops.
//
// # Use
//
// The adapters carry the budget and path across hops with no code in the
// handlers: httpx.Handler and the grpcx server interceptors read them into
// the request context ([Inbound]); httpx.NewTransport and the grpcx client
// interceptors write them on outgoing calls made with that context
// ([Outbound]). Put a [TTL] with this service's id first in the server's
// pipeline:
//
//	in := callguard.Chain(ttl.New(ttl.WithService("orders")), bulkhead.New(100))
//	srv := &http.Server{Handler: httpx.Handler(mux, in)}
//
// # Two roles
//
// The server's check and the client's guard are two policies, and neither
// depends on what ran before it:
//
//   - [New] returns a [TTL], the server's check: it refuses a loop, records
//     this service's id and default budget, and serves a request that
//     arrives with no hops left (the request can still be answered; it
//     cannot make calls).
//   - [NewGuard] returns a [Guard], for a client's pipeline: it refuses a
//     call with [ErrExhausted] exactly when [Outbound] would. The adapters
//     check every call they send anyway; a Guard gives calls made by other
//     means the same check.
//
// # Wire format
//
//	Callguard-Hops: 15             decimal, 0 to MaxHops; larger values clamp
//	Callguard-Path: gateway,orders service ids, oldest first, comma-separated
//	Callguard-Error: loop | hops   on 508 answers
//
// gRPC carries the same values in metadata keys callguard-hops,
// callguard-path and callguard-error. A malformed value is ignored, never
// fatal: the hop budget falls back to the default and the path to empty. A
// path keeps at most [MaxPathEntries] ids and [MaxPathBytes] bytes, the
// most recent ones, and a path value over 4×MaxPathBytes is ignored whole,
// so a hostile header cannot grow a server's memory or work.
// Servers that face untrusted clients drop these headers (edge mode).
package ttl
