package httpx

import (
	"net/http"
	"time"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/loadshed"
)

// An Option configures [NewTransport] or [Handler]. Each option says which
// of the two it applies to; the other ignores it.
type Option interface{ apply(*options) }

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

// DefaultDeadlineMargin is the default of [WithDeadlineMargin]: how much
// less time than it has left a client tells the server it has.
const DefaultDeadlineMargin = 5 * time.Millisecond

type options struct {
	classifier  func(*http.Request, *http.Response, error) error // nil: the default, with maxPushback (NewTransport sets it)
	maxPushback time.Duration

	// Transport: propagation.
	propagate bool
	margin    time.Duration

	// Handler: inbound requests.
	maxDeadline    time.Duration // 0: none
	minServiceTime time.Duration // 0: none
	requestIDs     bool
	edge           bool
	exempt         func(*http.Request) bool              // nil: none
	priority       func(*http.Request) loadshed.Priority // nil: the wire's
	onReject       func(*http.Request, error)            // nil: none
}

func newOptions(opts []Option) options {
	o := options{maxPushback: callguard.MaxPushback, propagate: true, margin: DefaultDeadlineMargin}
	for _, opt := range opts {
		opt.apply(&o)
	}
	nonNegative("max pushback", o.maxPushback)
	nonNegative("deadline margin", o.margin)
	nonNegative("max deadline", o.maxDeadline)
	nonNegative("min service time", o.minServiceTime)
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
// [callguard.Overloaded] one. f must not read or close the response body.
// The default, and f == nil, is the default classification with the cap of
// [WithMaxPushback]. For [NewTransport]; f must be safe for concurrent use.
func WithClassifier(f func(req *http.Request, resp *http.Response, err error) error) Option {
	return optionFunc(func(o *options) { o.classifier = f })
}

// WithMaxPushback caps the delay that the default classification reads
// from a Retry-After or Callguard-Pushback header of a 429 or 503 response.
// The default is [callguard.MaxPushback] (1 h): the transport passes the
// callee's wish on, and the retry policy applies its own, smaller cap
// (retry.WithMaxPushback, 10 s by default). Zero means delays are ignored:
// such a response is an ordinary retryable failure, while an explicit
// "don't retry" (Callguard-Pushback: -1) is still honoured. For
// [NewTransport]; [NewTransport] panics if d < 0.
func WithMaxPushback(d time.Duration) Option {
	return optionFunc(func(o *options) { o.maxPushback = d })
}

// WithPropagation sets whether the transport carries the request context's
// hop budget, call path, deadline and request id to the server (see
// [NewTransport], "Propagation"). The default is true. Pass false for a
// client of services outside your system, which have no use for them and
// should not learn the names of your services: the transport then neither
// sends these headers nor refuses a call for want of hops or time. For
// [NewTransport].
func WithPropagation(on bool) Option {
	return optionFunc(func(o *options) { o.propagate = on })
}

// WithDeadlineMargin sets how much less time than its context has left the
// transport tells the server, in Callguard-Timeout. An attempt whose
// context has no more than d left is not sent: it fails at once with
// [ErrNoTimeLeft].
//
// The default is [DefaultDeadlineMargin], 5 ms: more than a round trip
// within a data centre, or across its zones, so that the server gives up
// soon enough for its 504 to reach the client before the client's own
// deadline, and the server's deadline-aware rejection ([WithMinServiceTime])
// errs on the side of not starting work whose answer would come too late.
// Each hop of a call chain spends one margin. Zero sends the remaining time
// as it is, as gRPC does with grpc-timeout. For [NewTransport];
// [NewTransport] panics if d < 0.
func WithDeadlineMargin(d time.Duration) Option {
	return optionFunc(func(o *options) { o.margin = d })
}

// WithMaxDeadline bounds the time the handler gets for each request: its
// context's deadline is at most d from the request's arrival, and sooner
// when the request's Callguard-Timeout asks for less. The default, zero,
// sets no bound of its own: only Callguard-Timeout sets a deadline (and,
// with [Edge], not even that). A timeout policy in the Handler's pipeline
// bounds the handler too; d also bounds what an untrusted client can ask
// for at the edge. For [Handler]; [Handler] panics if d < 0.
func WithMaxDeadline(d time.Duration) Option {
	return optionFunc(func(o *options) { o.maxDeadline = d })
}

// WithMinServiceTime makes the Handler refuse at once, with 504 Gateway
// Timeout and Callguard-Pushback -1 ("don't retry": a retry would have less
// time still), a request whose context has less than d left when it
// arrives: its handler could not finish in time, so it never runs, and
// neither does the Handler's policy. The default, zero, refuses only requests whose
// deadline has already passed. For [Handler]; [Handler] panics if d < 0.
func WithMinServiceTime(d time.Duration) Option {
	return optionFunc(func(o *options) { o.minServiceTime = d })
}

// WithRequestIDs makes the Handler create a request id (16 random hex
// digits) for a request that arrives without a valid X-Request-Id, so that
// every request has one. By default a request without one gets none. For
// [Handler].
func WithRequestIDs() Option {
	return optionFunc(func(o *options) { o.requestIDs = true })
}

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
// copies them onto an outgoing call passes no client's claim on. X-Request-Id is taken from any client, if valid. Nor does an Edge server
// tell a client the names of internal services: its responses never carry
// Callguard-Path, neither a loop's path that [Error] passes on nor one
// that the handler copies from a dependency's response. Without Edge, the
// default, a Handler trusts these headers: for servers whose callers are
// services of your own. For [Handler].
func Edge() Option {
	return optionFunc(func(o *options) { o.edge = true })
}

// WithExempt makes the Handler serve a request for which f returns true
// without its policy: neither shed, nor limited, nor timed by it. Use it
// for health checks and readiness probes, which must answer while the
// server sheds load, or the orchestrator would take an overloaded server
// for a dead one. Such a request still gets the context of [Handler]
// ("Propagation"), and is answered 504 at once when it arrives with too
// little time left. The default, and f == nil, exempts nothing. For
// [Handler]; f must be safe for concurrent use and fast: it runs for every
// request.
func WithExempt(f func(*http.Request) bool) Option {
	return optionFunc(func(o *options) { o.exempt = f })
}

// WithPriority makes the Handler set the priority of each request, for a
// [loadshed.Limiter] in its policy and for the handler's outgoing calls, to
// what f returns: for example [loadshed.Critical] for the checkout route,
// [loadshed.Sheddable] for prefetches. It overrides the Callguard-Priority
// that the caller sent, with [Edge] or without. The default, and f == nil,
// is the caller's priority (without Edge) or [loadshed.Default]. For
// [Handler]; f must be safe for concurrent use and fast: it runs for every
// request, and costs one allocation (the context).
func WithPriority(f func(*http.Request) loadshed.Priority) Option {
	return optionFunc(func(o *options) { o.priority = f })
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
// The default, and fn == nil, is no hook. For [Handler].
func OnReject(fn func(r *http.Request, err error)) Option {
	return optionFunc(func(o *options) { o.onReject = fn })
}
