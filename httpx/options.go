package httpx

import (
	"net/http"
	"time"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/internal/priority"
	"github.com/callguard/callguard/internal/propagation"
)

// A TransportOption configures [NewTransport], the client side. Options
// are per side, as grpc-go's DialOption and ServerOption are: an option of
// [Handler] given to NewTransport does not compile.
type TransportOption interface{ applyTransport(*transportOptions) }

type transportOptions struct {
	classifier  func(*http.Request, *http.Response, error) error // nil: the default, with maxPushback (NewTransport sets it)
	maxPushback time.Duration
	propagate   bool
	dependency  *propagation.Dependency // nil: none (WithDependency, route.go)
}

type transportOption func(*transportOptions)

func (f transportOption) applyTransport(o *transportOptions) { f(o) }

// A HandlerOption configures [Handler], the server side. An option of
// [NewTransport] given to Handler does not compile.
type HandlerOption interface{ applyHandler(*handlerOptions) }

type handlerOptions struct {
	prop      propagation.Server                    // the settings shared with grpcx's servers
	exempt    func(*http.Request) bool              // nil: none
	priority  func(*http.Request) priority.Priority // nil: the wire's
	synthetic func(*http.Request) bool              // nil: the wire's
	onReject  func(*http.Request, error)            // nil: none
}

type handlerOption func(*handlerOptions)

func (f handlerOption) applyHandler(o *handlerOptions) { f(o) }

// setting is a Handler option that sets a field shared with grpcx's
// servers: the field's meaning lives in one place, internal/propagation.
type setting propagation.Setting

func (f setting) applyHandler(o *handlerOptions) { f(&o.prop) }

// DefaultDeadlineMargin is the default of [WithDeadlineMargin], 5 ms, as in
// grpcx: more than a round trip within a data centre, or across its zones.
const DefaultDeadlineMargin = 5 * time.Millisecond

func newTransportOptions(opts []TransportOption) transportOptions {
	o := transportOptions{maxPushback: callguard.MaxPushback, propagate: true}
	for _, opt := range opts {
		opt.applyTransport(&o)
	}
	nonNegative("max pushback", o.maxPushback)
	return o
}

func newHandlerOptions(opts []HandlerOption) handlerOptions {
	o := handlerOptions{prop: propagation.Server{Margin: DefaultDeadlineMargin, Pkg: "httpx"}}
	for _, opt := range opts {
		opt.applyHandler(&o)
	}
	o.prop.Check()
	return o
}

func nonNegative(name string, d time.Duration) {
	if d < 0 {
		panic("httpx: " + name + " must be >= 0, got " + d.String())
	}
}

// WithClassifier replaces the transport's classification of each attempt's
// outcome (see [Classify] for the default, which f may call for the cases
// it does not handle). f gets the caller's request and either the
// attempt's response or its transport error, and returns nil for a
// success, or the error that the policy sees: a failure to retry and count,
// a [callguard.NoRetry] failure, a [callguard.Permanent] error, or a
// [callguard.Overloaded] one. f must not read or close the response body,
// and must be safe for concurrent use. The default, and f == nil, is the
// default classification with the cap of [WithMaxPushback].
func WithClassifier(f func(req *http.Request, resp *http.Response, err error) error) TransportOption {
	return transportOption(func(o *transportOptions) { o.classifier = f })
}

// WithMaxPushback caps the delay that the default classification reads
// from a Retry-After or Callguard-Pushback header of a 429 or 503 response.
// The default is [callguard.MaxPushback] (1 h): the transport passes the
// callee's wish on, and the retry policy applies its own, smaller cap
// (retry.WithMaxPushback, 10 s by default). Zero means delays are ignored:
// such a response is an ordinary retryable failure, while an explicit
// "don't retry" (Callguard-Pushback: -1) is still honoured. [NewTransport]
// panics if d < 0.
func WithMaxPushback(d time.Duration) TransportOption {
	return transportOption(func(o *transportOptions) { o.maxPushback = d })
}

// WithPropagation sets whether the transport carries the request context's
// hop budget, call path, deadline, priority and request id to the server
// (see [NewTransport], "Propagation"). The default is true. Pass false for
// a client of services outside your system, which have no use for them and
// should not learn the names of your services: the transport then neither
// sends these headers nor refuses a call for want of hops or time.
func WithPropagation(on bool) TransportOption {
	return transportOption(func(o *transportOptions) { o.propagate = on })
}

// WithDeadlineMargin makes the Handler subtract d from the time that a
// request's Callguard-Timeout gives it, so that the handler, and the calls
// it makes, give up before the caller does and the answer still reaches
// it. A request with no more than d left is refused at once (504, see
// [WithMinServiceTime]); a request without Callguard-Timeout is not
// changed. The default is [DefaultDeadlineMargin]; zero means no margin.
// [Handler] panics if d < 0.
//
// The margin is taken on the receiving side, in grpcx too: gRPC's deadline
// travels as grpc-timeout, which gRPC computes from the caller's context,
// so a client could shorten it only by giving up sooner itself. The
// transport sends the whole time left, as gRPC does. Each hop of a call
// chain spends one margin.
func WithDeadlineMargin(d time.Duration) HandlerOption { return setting(propagation.Margin(d)) }

// WithMaxDeadline bounds the time the handler gets for each request: its
// context's deadline is at most d from the request's arrival, and sooner
// when the request's Callguard-Timeout, less [WithDeadlineMargin], asks for
// less. The default, zero, sets no bound of its own: only Callguard-Timeout
// sets a deadline (and, with [Edge], not even that). A timeout policy in
// the Handler's pipeline bounds the handler too; d also bounds what an
// untrusted client can ask for at the edge. [Handler] panics if d < 0.
func WithMaxDeadline(d time.Duration) HandlerOption { return setting(propagation.MaxDeadline(d)) }

// WithMinServiceTime makes the Handler refuse at once, with 504 Gateway
// Timeout and Callguard-Pushback -1 ("don't retry": a retry would have less
// time still), a request whose context has less than d left when it
// arrives (after [WithDeadlineMargin] and [WithMaxDeadline]): its handler
// could not finish in time, so it never runs, and neither does the
// Handler's policy. The default, zero, refuses only requests whose deadline
// has already passed. [Handler] panics if d < 0.
func WithMinServiceTime(d time.Duration) HandlerOption { return setting(propagation.MinServiceTime(d)) }

// WithRequestIDs makes the Handler create a request id (16 random hex
// digits) for a request that arrives without a valid X-Request-Id, so that
// every request has one. By default a request without one gets none.
func WithRequestIDs() HandlerOption { return setting(propagation.RequestIDsOn()) }

// Edge marks a Handler that faces untrusted clients. Such a client could
// otherwise raise its own hop budget, slip past the loop check, or ask for
// more time than the server grants, so the Handler ignores the
// Callguard-Hops and Callguard-Path headers (the request starts with the
// server's default budget and an empty path), and it reads
// Callguard-Timeout only as far as [WithMaxDeadline] allows: without a max
// deadline, not at all. Request priority (Callguard-Priority), which the
// load shedder reads, is reset to the default at the edge as well. These
// four headers are removed from the request before the handler runs (after
// the functions of [WithExempt] and [WithPriority]), so that a handler that
// copies them onto an outgoing call passes no client's claim on.
// X-Request-Id is taken from any client, if valid. Nor does an Edge server
// tell a client the names of internal services: its responses never carry
// Callguard-Path, neither a loop's path that [Error] passes on nor one
// that the handler copies from a dependency's response. Without Edge, the
// default, a Handler trusts these headers: for servers whose callers are
// services of your own.
func Edge() HandlerOption { return setting(propagation.EdgeOn()) }

// WithExempt makes the Handler serve a request for which f returns true
// without its policy: neither shed, nor limited, nor timed by it. Use it
// for health checks and readiness probes, which must answer while the
// server sheds load, or the orchestrator would take an overloaded server
// for a dead one. Such a request still gets the context of [Handler]
// ("Propagation"), and is answered 504 at once when it arrives with too
// little time left. The default, and f == nil, exempts nothing. f must be
// safe for concurrent use and fast: it runs for every request.
func WithExempt(f func(*http.Request) bool) HandlerOption {
	return handlerOption(func(o *handlerOptions) { o.exempt = f })
}

// WithPriority makes the Handler set the priority of each request, for a
// [github.com/callguard/callguard/loadshed.Limiter] in its policy and for the handler's outgoing calls, to
// what f returns: for example [github.com/callguard/callguard/loadshed.Critical] for the checkout route,
// [github.com/callguard/callguard/loadshed.Sheddable] for prefetches. It overrides the Callguard-Priority
// that the caller sent, with [Edge] or without. The default, and f == nil,
// is the caller's priority (without Edge) or [github.com/callguard/callguard/loadshed.Default]. f must be
// safe for concurrent use and fast: it runs for every request, and costs
// one allocation (the context).
//
// f's result is a loadshed.Priority; the type is defined in an internal
// package so that this package does not link loadshed (docs/design.md,
// "Layers").
func WithPriority(f func(*http.Request) priority.Priority) HandlerOption {
	return handlerOption(func(o *handlerOptions) { o.priority = f })
}

// WithSynthetic makes the Handler mark a request synthetic
// ([callguard.IsSynthetic]) when f returns true, with [Edge] or without:
// the server's word, for an Edge server that recognises a prober outside
// the system (by its client certificate, its address, a secret header of
// your own), whose Callguard-Synthetic it drops as any client's. A request
// that f does not mark keeps the mark its caller sent, when the server
// trusts it. The default, and f == nil, is the caller's mark alone. f runs
// before the client's callguard headers are removed, and must be safe for
// concurrent use and fast: it runs for every request.
func WithSynthetic(f func(*http.Request) bool) HandlerOption {
	return handlerOption(func(o *handlerOptions) { o.synthetic = f })
}

// OnReject sets a function that the Handler calls each time it answers a
// request itself, in its handler's place: a refusal before the handler runs
// (a loop or an exhausted hop budget, too little time left, a shed
// request, a full bulkhead, an open breaker) or a policy error that the
// handler did not answer (a timeout after which it wrote nothing). r is
// the request with the context the handler would have had, so that
// [callguard.RequestIDFromContext](r.Context()) is its request id; err is
// the error answered, annotated with that id ([callguard.ErrorWithRequestID]),
// so that a log line of it joins those of the other services on the
// request's path. It runs on the request's goroutine just before the
// answer is written, so it must be fast; it must not write to the response.
// The default, and fn == nil, is no hook.
func OnReject(fn func(r *http.Request, err error)) HandlerOption {
	return handlerOption(func(o *handlerOptions) { o.onReject = fn })
}
