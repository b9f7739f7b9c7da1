package grpcx

import (
	"context"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/internal/priority"
	"github.com/callguard/callguard/internal/propagation"
)

// A ClientOption configures the client side: [UnaryClientInterceptor],
// [StreamClientInterceptor] and [DialOptions]. Options are per side, as
// grpc-go's DialOption and ServerOption are: a server option given to a
// client does not compile.
type ClientOption interface{ applyClient(*clientOptions) }

type clientOptions struct {
	classify   func(err error, trailer metadata.MD) error // never nil
	retryFirst bool
	idempotent map[string]bool         // WithIdempotent (hedge.go)
	dependency *propagation.Dependency // nil: none (WithDependency, route.go)
}

type clientOption func(*clientOptions)

func (f clientOption) applyClient(o *clientOptions) { f(o) }

// A ServerOption configures the server side: [UnaryServerInterceptor] and
// [StreamServerInterceptor]. A client option given to a server does not
// compile.
type ServerOption interface{ applyServer(*serverOptions) }

type serverOption func(*serverOptions)

func (f serverOption) applyServer(o *serverOptions) { f(o) }

// setting is a server option that sets a field shared with httpx's
// Handler: the field's meaning lives in one place, internal/propagation.
type setting propagation.Setting

func (f setting) applyServer(o *serverOptions) { f(&o.prop) }

type serverOptions struct {
	prop      propagation.Server                                // the settings shared with httpx's Handler
	exempt    func(fullMethod string) bool                      // nil: none
	priority  func(fullMethod string) priority.Priority         // nil: the caller's
	synthetic func(ctx context.Context, fullMethod string) bool // nil: the caller's
	onReject  func(ctx context.Context, fullMethod string, err error)
}

func newClientOptions(opts []ClientOption) clientOptions {
	var o clientOptions
	for _, opt := range opts {
		opt.applyClient(&o)
	}
	if o.classify == nil {
		o.classify = Classify
	}
	return o
}

// DefaultDeadlineMargin is the default of [WithDeadlineMargin], 5 ms, as in
// httpx: more than a round trip within a data centre, or across its zones.
const DefaultDeadlineMargin = 5 * time.Millisecond

// WithMaxDeadline makes a server interceptor shorten the deadline of each
// call to at most d from its arrival; a call that arrives without a
// deadline gets one d away. It bounds the work a caller can ask for, and an
// edge server ([Edge]) should set it. Zero, the default, means no limit.
func WithMaxDeadline(d time.Duration) ServerOption { return setting(propagation.MaxDeadline(d)) }

// WithDeadlineMargin makes a server interceptor subtract d from the
// deadline of each inbound call, so that the handler, and the calls it
// makes, give up before the caller does and the answer still reaches it.
// A call with no more than d left is refused at once with DeadlineExceeded
// (see [WithMinServiceTime]); a call without a deadline is not changed. The
// default is [DefaultDeadlineMargin]; zero means no margin: the handler
// keeps the deadline gRPC gives it.
//
// The margin is taken on the receiving side, in httpx too: gRPC's deadline
// travels as grpc-timeout, which gRPC computes from the caller's context,
// so a client could shorten it only by giving up sooner itself. Each hop of
// a call chain spends one margin.
func WithDeadlineMargin(d time.Duration) ServerOption { return setting(propagation.Margin(d)) }

// WithMinServiceTime makes a server interceptor refuse, at once and with
// DeadlineExceeded and grpc-retry-pushback-ms -1 ("don't retry": a retry
// would have less time still), a call whose remaining time (after
// [WithDeadlineMargin] and [WithMaxDeadline]) is shorter than d: it cannot
// finish in time, so the handler never runs. A call without a deadline is
// never refused. Zero, the default, refuses only calls whose deadline has
// already passed.
func WithMinServiceTime(d time.Duration) ServerOption { return setting(propagation.MinServiceTime(d)) }

// Edge makes a server interceptor treat its callers as untrusted, for a
// server that faces the internet: it ignores the inbound callguard-hops and
// callguard-path metadata (hops start at the server's default budget, and a
// path cannot name this service to fake a loop or hide one), and callers'
// priority, so that a client cannot bypass the hop limit or raise its
// priority. The handler's incoming metadata lacks callguard-hops,
// callguard-path and callguard-priority, so that a handler that copies it
// to an outgoing call does not pass a client's claim on. A loop found
// further down is answered without its path (no callguard-path trailer,
// and the message of [ttl.ErrLoop]), which would name internal services.
// The deadline is limited by [WithMaxDeadline], which an edge server
// should set. An inbound x-request-id is kept: it only labels logs.
// The default is off: callers are trusted services.
func Edge() ServerOption { return setting(propagation.EdgeOn()) }

// WithRequestIDs makes a server interceptor create a request id (see
// [callguard.ContextWithRequestID]) for a call that arrives without a valid
// x-request-id: 16 random hex digits, as httpx makes. By default an inbound
// id is kept and none is created.
func WithRequestIDs() ServerOption { return setting(propagation.RequestIDsOn()) }

// WithExempt makes a server interceptor run the handler of a call for
// whose full method name ("/package.Service/Method") f returns true without
// its policy: neither shed, nor limited, nor timed by it. Use it for health
// checks ("/grpc.health.v1.Health/Check"), which must answer while the
// server sheds load. Such a call still gets the context of the interceptor
// (hops, path, priority, request id, deadline) and is refused with
// DeadlineExceeded when it arrives with too little time left. The default,
// and f == nil, exempts nothing. f must be safe for concurrent use and
// fast: it runs for every call.
func WithExempt(f func(fullMethod string) bool) ServerOption {
	return serverOption(func(o *serverOptions) { o.exempt = f })
}

// WithPriority makes a server interceptor set the priority of each call,
// for a [github.com/callguard/callguard/loadshed.Limiter] in its policy and for the handler's outgoing
// calls, to what f returns for the call's full method name: for example
// [github.com/callguard/callguard/loadshed.Critical] for a payment method, [github.com/callguard/callguard/loadshed.Sheddable] for a
// batch export. It overrides the callguard-priority that the caller sent,
// with [Edge] or without. The default, and f == nil, is the caller's
// priority (without Edge) or [github.com/callguard/callguard/loadshed.Default]. f must be safe for
// concurrent use and fast: it runs for every call, and costs one
// allocation (the context).
//
// f's result is a loadshed.Priority; the type is defined in an internal
// package so that this package does not link loadshed (docs/design.md,
// "Layers").
func WithPriority(f func(fullMethod string) priority.Priority) ServerOption {
	return serverOption(func(o *serverOptions) { o.priority = f })
}

// WithSynthetic makes a server interceptor mark a call synthetic
// ([callguard.IsSynthetic]) when f returns true, with [Edge] or without:
// the server's word, for an Edge server that recognises a prober outside
// the system (by its peer or credentials, or metadata of your own in ctx),
// whose callguard-synthetic it drops as any client's. A call that f does
// not mark keeps the mark its caller sent, when the server trusts it. The
// default, and f == nil, is the caller's mark alone. f must be safe for
// concurrent use and fast: it runs for every call.
func WithSynthetic(f func(ctx context.Context, fullMethod string) bool) ServerOption {
	return serverOption(func(o *serverOptions) { o.synthetic = f })
}

// WithClassifier sets how a client interceptor turns a failed attempt into
// the error its policy sees. f gets the attempt's error, always a gRPC
// status error, and the trailer metadata the server sent (nil when the call
// never reached a server). It returns err marked for the policies: err
// itself for a failure that may be retried, [callguard.Permanent](err) for
// an answer that retrying cannot change and that says nothing about the
// server's health, [callguard.NoRetry](err) for a failure that must not be
// repeated, [callguard.Overloaded](delay, err) for a server that shed the
// call. A nil result is taken as err itself. f must be safe for concurrent
// use.
//
// The default, and f == nil, is [Classify]; a classifier can handle a few
// cases and delegate the rest to it.
func WithClassifier(f func(err error, trailer metadata.MD) error) ClientOption {
	return clientOption(func(o *clientOptions) { o.classify = f })
}

// WithRetryFirstMessage makes a client stream interceptor retry a
// server-streaming call (one request, a stream of responses) until its
// first response. By default the policy covers only opening the stream; an
// error the server answers with comes with the first RecvMsg, after the
// policy has finished.
//
// With this option the interceptor keeps the request message, and the first
// RecvMsg runs the call's policy once more: its first attempt receives from
// the stream already open, and each further attempt opens a new stream,
// sends the request, closes the send side and receives. A per-attempt
// timeout thus bounds the wait for the first response. The breaker counts
// the opening and the first response as two calls. Once a response has been
// received, the stream is never retried. gRPC forbids changing a message
// after SendMsg, so keeping it is safe. The option does nothing for unary,
// client-streaming and bidirectional calls. The default is off.
func WithRetryFirstMessage() ClientOption {
	return clientOption(func(o *clientOptions) { o.retryFirst = true })
}

// WithPolicy returns a call option that runs one call under p instead of
// the interceptor's policy; WithPolicy(nil) runs the call with no policy at
// all. It works with the client interceptors of this package and is ignored,
// harmlessly, by a connection without them.
//
// WithPolicy wraps p once, when it is called: create the option once and
// reuse it, and a call that uses it costs what a call through the
// interceptor's own policy costs, plus one copy of the call's options (the
// interceptor removes its own options before calling gRPC).
//
// For a smaller change than a whole policy, retry reads a per-call attempt
// count from the call's context (see the retry package): it needs no call
// option.
func WithPolicy(p callguard.Policy) grpc.CallOption {
	if err := callguard.CheckClient(p); err != nil {
		panic("grpcx: WithPolicy: " + err.Error())
	}
	h := callguard.Invoke
	if p != nil {
		h = p.Wrap(callguard.Invoke)
	}
	return policyOption{h: h}
}

// policyOption is the call option made by WithPolicy. It embeds
// grpc.EmptyCallOption, so gRPC ignores it if it ever gets there.
type policyOption struct {
	grpc.EmptyCallOption
	h callguard.Handler
}

// callOptions returns the handler to run a call with and the call options
// to pass on to gRPC, without ours. It copies opts only when it holds one
// of ours; the last WithPolicy wins.
func callOptions(h callguard.Handler, opts []grpc.CallOption) (callguard.Handler, []grpc.CallOption) {
	n := 0
	for _, o := range opts {
		if po, ok := o.(policyOption); ok {
			h = po.h
			n++
		}
	}
	if n == 0 {
		return h, opts
	}
	rest := make([]grpc.CallOption, 0, len(opts)-n)
	for _, o := range opts {
		if _, ok := o.(policyOption); !ok {
			rest = append(rest, o)
		}
	}
	return h, rest
}

// OnReject sets a function that a server interceptor calls each time it
// fails a call in its handler's place: a refusal before the handler runs
// (a loop or an exhausted hop budget, too little time left, a shed call, a
// full bulkhead, an open breaker), or a policy that gave up before the
// handler returned (timeout.WithAbandon). Errors that the handler returns
// are not reported. ctx is the context the handler would have had, so that
// [callguard.RequestIDFromContext](ctx) is the call's request id;
// fullMethod is "/package.Service/Method"; err is the policy's error,
// annotated with the request id ([callguard.ErrorWithRequestID]), so that a
// log line of it joins those of the other services on the call's path. It
// runs on the call's goroutine before the status is sent, so it must be
// fast. The default, and fn == nil, is no hook.
func OnReject(fn func(ctx context.Context, fullMethod string, err error)) ServerOption {
	return serverOption(func(o *serverOptions) { o.onReject = fn })
}
