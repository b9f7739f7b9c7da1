// Package grpcx puts callguard policies into gRPC clients and servers as
// interceptors. It is the only package of callguard that imports
// google.golang.org/grpc.
//
//	out := callguard.Chain(retry.New(), breaker.New(), bulkhead.New(64), timeout.New(300*time.Millisecond))
//	conn, err := grpc.NewClient(addr, append([]grpc.DialOption{
//		grpc.WithTransportCredentials(creds),
//	}, grpcx.DialOptions(out)...)...) // both interceptors, and gRPC's own retries off
//
//	in := callguard.Chain(bulkhead.New(256), timeout.New(2*time.Second))
//	srv := grpc.NewServer(
//		grpc.ChainUnaryInterceptor(grpcx.UnaryServerInterceptor(in)),
//		grpc.ChainStreamInterceptor(grpcx.StreamServerInterceptor(in)),
//	)
//
// The policy is wrapped once, when the interceptor is made; the policies
// compose as callguard.Chain says (the first is the outermost). gRPC runs
// chained interceptors the same way: the first is the outermost. A nil
// policy means no policy: the interceptors then only carry the call's
// context across (see "Hops, loops, deadlines and request ids"). Options
// are per side, as gRPC's DialOption and ServerOption are: the client side
// takes [ClientOption]s, the server side [ServerOption]s, and an option of
// one side does not compile on the other.
//
// # Clients
//
// [UnaryClientInterceptor] runs each call under the policy: every attempt is
// one call of gRPC's invoker, with the attempt's context, so that a
// per-attempt timeout becomes the deadline gRPC sends to the server. Before
// the policy sees a failed attempt, the classifier marks its error from the
// status code and the trailer ([Classify], replaceable with
// [WithClassifier]): Unavailable and its kin are retried, Internal is a
// failure not retried, NotFound and its kin are permanent, and a
// grpc-retry-pushback-ms trailer (gRFC A6) becomes a pushback delay, or
// "overloaded: do not retry".
//
// A failed call returns gRPC's own error when the policy passed it on
// unchanged, and otherwise an [*Error] that wraps the policy's error and
// whose GRPCStatus is the server's status when a server answered, or one
// that fits the policy's refusal
// (Unavailable for an open breaker or a full bulkhead, DeadlineExceeded for
// a timeout). status.Code keeps working, and so does
// errors.Is(err, breaker.ErrOpen).
//
// A healthy unary call that carries only its hop budget allocates three
// times in the interceptor (the attempt, the outgoing metadata context,
// whose map is shared by every call with the same budget, and the
// attempt's own reply, see below; BenchmarkUnaryInterceptorOnly); a path,
// priority or request id adds the metadata's own map and values. The
// policies add what they allocate (retry, breaker and bulkhead: nothing).
//
// # Hops, loops, deadlines and request ids
//
// The interceptors carry what the wire protocol (docs/design.md) says from service
// to service with no code in the handlers. A server interceptor puts the
// inbound callguard-hops, callguard-path, callguard-priority and
// x-request-id metadata in the handler's context; a client interceptor
// sends them on every attempt made with that context, hops less one and
// this service's id added to the path (package ttl), the priority of
// [github.com/callguard/callguard/loadshed.FromContext] when it is not the default. Put a [ttl.TTL] with the service's id first in the server
// policy: a call that comes back to a service is refused with
// FailedPrecondition and the trailers callguard-error: loop and
// callguard-path, and every client up the chain gets a permanent error that
// matches a [*ttl.LoopError] with the whole path. A call with no hops left
// is not sent ([ttl.ErrExhausted]). Deadlines travel as gRPC's own
// grpc-timeout; servers shorten them with [WithDeadlineMargin] and
// [WithMaxDeadline] and refuse calls that cannot finish in time with
// [WithMinServiceTime]. [Edge] servers ignore their callers' hops and path.
// A server echoes the request id in the response header x-request-id, as
// httpx does; a call that carries several reads the first. The request id
// is for logs; trace context is OpenTelemetry's, which
// works beside these interceptors unchanged.
//
// # Priorities
//
// A client sets the priority of a call, for the [github.com/callguard/callguard/loadshed.Limiter] of the
// server, in the call's context: loadshed.NewContext(ctx, loadshed.Critical).
// The client interceptors send it as callguard-priority when it is not the
// default, and a server puts it in its handler's context, so that the
// handler's own calls carry it on. A server can assign priorities per method
// instead ([WithPriority]). An [Edge] server ignores its callers' priority
// and takes callguard-priority, -hops and -path out of the incoming metadata
// its handler sees, so that a handler that copies that metadata to an
// outgoing call does not pass a client's claim on.
//
// # Streams
//
// [StreamClientInterceptor] covers the opening of a stream: gRPC opens a
// stream without waiting for the server, so the policy sees the lack of a
// connection and its own refusals, and the server's answer comes with the
// first RecvMsg. A stream that has been handed to the caller is never
// retried, since messages may have been delivered on it. With
// [WithRetryFirstMessage], a server-streaming call (one request, a stream
// of responses) is retried until its first response arrives: the
// interceptor keeps the request, receives the first response under the
// policy and, when that fails, retries it over new streams. The stream's
// context has the values of the attempt's context and the caller's
// deadline and cancellation: a per-attempt timeout bounds the opening (and
// the first response), not the life of the stream.
//
// # Servers
//
// [UnaryServerInterceptor] and [StreamServerInterceptor] run the handler
// under the policy (typically a bulkhead, load shedding, a timeout) and map
// what comes out of it to statuses: overloaded and rejected calls to
// Unavailable with a grpc-retry-pushback-ms trailer (-1, "do not retry",
// unless a delay is known), timeouts to DeadlineExceeded, loop and hop
// refusals to FailedPrecondition with a callguard-error trailer. The
// pushback also passes on an overload from further down: a handler whose
// own downstream call was shed, or refused by an open breaker, returns
// that error and the server tells its caller not to retry, so that only
// the tier next to the fault retries. Other errors go back to gRPC as the
// handler returned them. A healthy call allocates three times in the
// interceptor, plus once per callguard metadata key the call carries.
//
// # gRPC's own retries
//
// grpc-go can retry by itself, when the service config has a retryPolicy.
// Those retries happen inside each attempt of the callguard policy: with
// both, 3 callguard attempts of 3 gRPC attempts each make 9 calls, and
// neither retry budget sees the other's retries. [DialOptions] switches
// gRPC's retries off with grpc.WithDisableRetry(), wherever it stands among
// the dial options: a retryPolicy in a default or resolved service config
// is then ignored. Installing the interceptors by hand, add
// grpc.WithDisableRetry() when the policy retries. This leaves gRPC's transparent retries, of calls that never left the
// client or that the server did not process (a refused stream, a GOAWAY),
// which are safe and cost the server nothing. With gRPC's retries on, the
// trailer the interceptor reads, and so the pushback, is the last gRPC
// attempt's.
//
// # Per-call overrides
//
// [WithPolicy] is a grpc.CallOption that runs one call under another policy,
// or none. The interceptor takes its own options out of the call's options
// before calling gRPC. retry also reads a per-call attempt count from the
// context (retry.ContextWithMaxAttempts), which needs no call option and
// works through the interceptors unchanged.
//
// # Policies that abandon a call
//
// A policy may give up on an attempt that is still running
// (timeout.WithAbandon) without the interceptor mixing it up with the next
// one: an attempt's state belongs to the attempt, and each unary attempt
// decodes into a reply of its own (a new message of the reply's type). The
// first attempt that succeeds while the call lasts moves its reply into the
// caller's, so a late attempt never writes into the caller's reply; this
// costs one allocation per attempt. gRPC calls end when their context does,
// so timeout needs no WithAbandon in front of gRPC: use the default, which
// waits for the call. A stream's first response, with
// [WithRetryFirstMessage], is still received into the caller's message: do
// not abandon those attempts, nor run two attempts of one stream at the same
// time (hedging).
package grpcx
