package httpx

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/internal/classify"
	"github.com/callguard/callguard/internal/priority"
	"github.com/callguard/callguard/internal/propagation"
	"github.com/callguard/callguard/ttl"
)

var (
	errServedTwice = errors.New("httpx: the policy ran the handler twice; a server handler cannot be retried")
	errServedLate  = errors.New("httpx: the policy ran the handler after ServeHTTP returned")
)

// Handler returns an [http.Handler] that runs next under the policy p, as
// [http.TimeoutHandler] runs its handler under a timeout: next gets the
// request with the policy's context (a timeout policy's deadline, for
// example). next nil means [http.DefaultServeMux], as in [http.Server];
// p nil means no policy. The policy is wired once, here. Handler panics if
// a duration option is negative.
//
// # Propagation
//
// Before the policy runs, Handler puts what the request carries into its
// context, where the policy, the handler and the handler's outgoing calls
// through [NewTransport] find it:
//
//   - the hop budget and call path of Callguard-Hops and Callguard-Path
//     ([ttl.Inbound]): put a ttl policy with this service's id first in p,
//     and a request that comes back to the service is refused with 508
//     Loop Detected before the handler runs;
//   - a deadline: the earlier of the request's Callguard-Timeout and the
//     server's own limit ([WithMaxDeadline]). A request with less time
//     left than the handler needs ([WithMinServiceTime]), or none, is
//     answered 504 Gateway Timeout with Callguard-Pushback -1 at once:
//     neither p nor next runs, and the caller does not retry, since a
//     retry would have less time still;
//   - the request id of the first X-Request-Id, if valid (later ones are
//     ignored, as grpcx does), or a new one ([WithRequestIDs]), for
//     [callguard.RequestIDFromContext]; the response carries it back in
//     X-Request-Id;
//   - the priority of Callguard-Priority, for a [github.com/callguard/callguard/loadshed.Limiter] in p
//     ([github.com/callguard/callguard/loadshed.FromContext]), unless [WithPriority] assigns one;
//   - the synthetic mark of Callguard-Synthetic: 1 ([callguard.IsSynthetic]),
//     or the one that [WithSynthetic] gives.
//
// A server that faces untrusted clients takes [Edge], which makes it
// ignore the hop budget, path, priority and synthetic mark that a client
// sends and cap its deadline. A request that [WithExempt] picks (a health
// check) gets the context too, but p does not run for it: it is never shed.
//
// # Load shedding
//
// A [github.com/callguard/callguard/loadshed.Limiter] in p admits or sheds each request. A shed request is
// answered 503 with Callguard-Pushback -1 (or the limiter's delay and
// Retry-After, see loadshed.WithPushback), and a request refused for want
// of time ([github.com/callguard/callguard/loadshed.ErrDeadline]) 504 with Callguard-Pushback -1. The limiter learns each admitted
// request's outcome from the error below: a 503 or 504 that next wrote, or
// an overloaded or timeout error it passed to [Error], backs the limit off
// ([github.com/callguard/callguard/loadshed.OutcomeOf]); other answers are samples of the service time.
//
// When p refuses the request, or fails it after next ran without writing a
// response, Handler answers in next's place (docs/design.md, "Status mapping"):
//
//   - an overloaded error (a shed request, a full bulkhead, an open
//     breaker, any [callguard.ErrOverloaded]): 503 Service Unavailable
//     with Callguard-Pushback, the delay in milliseconds or -1 ("don't
//     retry") when the error carries none, and Retry-After, in whole
//     seconds rounded up, when it does;
//   - retries that ran out (retry.ErrExhausted), unless the last error was
//     permanent, a loop or a hop refusal: 503 with Callguard-Pushback -1,
//     whatever that error was, since only the tier next to the fault may
//     retry;
//   - a timeout (context.DeadlineExceeded), or a dependency's 504 passed
//     on with [Error]: 504 Gateway Timeout; with Callguard-Pushback -1 for
//     a refusal for want of time ([github.com/callguard/callguard/loadshed.ErrDeadline]) and for a
//     dependency's 504 that said so itself;
//   - a call-path loop or an exhausted hop budget: 508 Loop Detected with
//     Callguard-Error "loop" or "hops", and for a loop Callguard-Path with
//     the loop's path ([ttl.LoopError]), except at an [Edge] server;
//   - the caller's cancellation: 503 Service Unavailable;
//   - anything else: 500 Internal Server Error.
//
// The body is the status text. The policy sees next's outcome as an error
// when next reports one with [Error], writes a 5xx status (a
// [*StatusError]; for a 503 also a [callguard.ErrOverloaded] without
// delay, for a 504 also a [context.DeadlineExceeded]), or returns without
// writing anything after its context ended (the context's cause: a timeout
// becomes 504); other responses are successes.
//
// next runs in the goroutine of ServeHTTP, and ServeHTTP returns only after
// next has returned, as the ResponseWriter contract requires: a policy that
// abandons a call (timeout.WithAbandon) gets no early return here, and a
// policy that runs the call twice (retry) gets an error on the second
// run. For a handler that ignores its context, use [http.TimeoutHandler]
// inside this one.
//
// The ResponseWriter that next gets wraps the original one. It implements
// exactly those of [http.Flusher], [http.Hijacker], [io.ReaderFrom] and
// [http.Pusher] that the original implements (over HTTP/2, no Hijacker),
// and Unwrap for [http.ResponseController]. It belongs to one request:
// once next has returned, it drops what it gets (writes fail), as a late
// write to net/http's own writer goes nowhere.
func Handler(next http.Handler, p callguard.Policy, opts ...HandlerOption) http.Handler {
	if err := callguard.CheckServer(p); err != nil {
		panic("httpx: Handler: " + err.Error())
	}
	o := newHandlerOptions(opts)
	if next == nil {
		next = http.DefaultServeMux
	}
	h := &handler{next: next, h: callguard.Invoke, handlerOptions: o}
	if p != nil {
		h.h = p.Wrap(callguard.Invoke)
	}
	return h
}

// handler is the state shared by the requests of one Handler: its next
// handler, policy and options.
type handler struct {
	next http.Handler
	h    callguard.Handler
	handlerOptions
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx, cancel, err := h.inbound(w, r)
	if cancel != nil {
		defer cancel()
	}
	if err != nil {
		h.reject(ctx, w, r, err) // too late: next never runs
		return
	}
	exempt := h.exempt != nil && h.exempt(r)
	if h.priority != nil && !exempt {
		ctx = priority.NewContext(ctx, h.priority(r)) // the server's word over the wire's
	}
	if h.synthetic != nil && h.synthetic(r) {
		ctx = callguard.ContextWithSynthetic(ctx) // the server's word, Edge or not
	}
	if h.prop.Edge {
		dropClaims(r.Header) // the server's own hooks have read them
	}
	if exempt {
		h.next.ServeHTTP(w, r.WithContext(ctx)) // no policy at all
		return
	}
	s := newServing(w)
	s.h, s.r = h, r
	s.ctx = servingCtx{Context: ctx, s: s}
	// s is this request's own (the one allocation that Handler adds to a
	// request without callguard headers): a handler that keeps the
	// ResponseWriter cannot reach a later request. The call that the
	// policy runs is one function for every request; it finds its s in
	// its context, which derives from s.ctx, so that a policy that keeps
	// the call, and runs it late, reaches this request's s and no other.
	err = h.h(&s.ctx, serveContext)
	written := s.finish()
	if err != nil && !written {
		h.reject(ctx, w, r, err)
	}
}

// reject answers r, whose handler's context is ctx, with err in the
// handler's place, and reports it to the OnReject hook.
func (h *handler) reject(ctx context.Context, w http.ResponseWriter, r *http.Request, err error) {
	if h.onReject != nil {
		h.onReject(r.WithContext(ctx), callguard.ErrorWithRequestID(ctx, err))
	}
	writeError(w, err, !h.prop.Edge)
}

// A serving is the state of one ServeHTTP call, and the ResponseWriter that
// next gets (see newServing).
//
// mu guards ran and over, and is held while next runs, so that finish,
// which takes it, waits for a next that a policy abandoned. wmu guards the
// writer's fields; h, r, w and out are set before s is shared.
type serving struct {
	h   *handler
	r   *http.Request
	w   http.ResponseWriter // the original
	out http.ResponseWriter // s, as next gets it

	mu   sync.Mutex
	ran  bool // next has run
	over bool // ServeHTTP is returning

	ctx servingCtx // the context that the policy gets, as s

	wmu    sync.Mutex
	code   int   // 0 until the header is written
	err    error // set by Error
	closed bool  // next has returned: the writer drops what it gets
}

// finish ends s, after next if it runs, and reports whether next wrote the
// response header. From then on, s drops what a handler writes.
func (s *serving) finish() (written bool) {
	s.mu.Lock()
	s.over = true
	s.mu.Unlock()
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.closed = true
	return s.code != 0
}

// A servingCtx is the context that a serving's policy gets: the handler's
// context, which also leads to the serving (see serveContext). It is a
// field of the serving, not the serving itself, so that the writer that
// embeds the serving is no context.
type servingCtx struct {
	context.Context
	s *serving
}

// servingKey is the key under which a servingCtx returns its serving.
type servingKey struct{}

// Value returns the serving for servingKey, else the parent's value.
func (c *servingCtx) Value(key any) any {
	if key == (servingKey{}) {
		return c.s
	}
	return c.Context.Value(key)
}

// serveContext is the call that the policy runs: [serving.serve] of the
// serving that ctx leads to, which the policy's context derives from.
func serveContext(ctx context.Context) error {
	s, _ := ctx.Value(servingKey{}).(*serving)
	if s == nil {
		return callguard.Permanent(errNoServing) // a policy that made a context of its own
	}
	return s.serve(ctx)
}

// errNoServing is returned by serveContext when a policy ran the call with
// a context that does not derive from the one it got.
var errNoServing = errors.New("httpx: the policy ran the handler with a context that does not derive from the request's")

// serve is the call that the policy runs: next, once.
func (s *serving) serve(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.over:
		return errServedLate
	case s.ran:
		return callguard.Permanent(errServedTwice)
	}
	s.ran = true
	r := s.r
	if ctx == &s.ctx {
		ctx = s.ctx.Context // the policy's context as it came: next need not see s
	}
	if ctx != r.Context() {
		r = r.WithContext(ctx)
	}
	s.h.next.ServeHTTP(s.out, r)
	s.wmu.Lock()
	code, err := s.code, s.err
	s.wmu.Unlock()
	switch {
	case err != nil:
		return err
	case code >= 500:
		return written(code)
	case code == 0 && ctx.Err() != nil:
		return context.Cause(ctx) // next gave up without a word: answer for it
	}
	return nil
}

// written returns the error that the policy sees for a 5xx status that next
// wrote: a *StatusError, marked by [marked].
func written(code int) error {
	return marked(&StatusError{StatusCode: code, Status: strconv.Itoa(code) + " " + http.StatusText(code)})
}

// marked returns err, an error of the handler or of its dependency, marked
// as the class its answer stands for, so that the policy counts it as it
// counts the error that the answer means (loadshed.OutcomeOf: the limit
// backs off), and [Error] answers it as such: exhausted retries, an
// overloaded error with a delay, and a 503 or 429 as overloaded with no
// delay (the tier next to the fault has retried), a 504 as a deadline.
// Other errors are returned as they are.
func marked(err error) error {
	var se *StatusError
	switch k, d := classify.Error(err); {
	case k == classify.Overloaded && (d > 0 || !errors.Is(err, callguard.ErrOverloaded)):
		return callguard.Overloaded(0, err) // exhausted retries, or a delay asked of the handler's client
	case k != classify.Other || !errors.As(err, &se):
		return err
	}
	switch se.StatusCode {
	case http.StatusServiceUnavailable, http.StatusTooManyRequests:
		return callguard.Overloaded(0, err)
	case http.StatusGatewayTimeout:
		return &timeoutError{err}
	}
	return err
}

// A timeoutError is a 504 answer. It matches [context.DeadlineExceeded] and
// unwraps to its *StatusError.
type timeoutError struct{ err error }

func (e *timeoutError) Error() string        { return e.err.Error() }
func (e *timeoutError) Unwrap() error        { return e.err }
func (e *timeoutError) Is(target error) bool { return target == context.DeadlineExceeded }

// Error answers the request that a handler serves with the status for err
// (see [Handler]; nil err does nothing), and reports err to the policy of
// the [Handler] the request came through, which counts it as the
// handler's failure (a 503, 429 or 504 response's error marked as
// overloaded or as a deadline, as a [github.com/callguard/callguard/loadshed.Limiter] needs it). A
// handler calls it instead of [http.Error] when a call it made failed:
//
//	resp, err := client.Do(req.WithContext(r.Context()))
//	if err != nil {
//		httpx.Error(w, err) // breaker.ErrOpen → 503, Callguard-Pushback: -1
//		return
//	}
//
// An overloaded error here comes from the handler's own dependency, which
// the handler's client has already retried as far as its policy allowed:
// the answer is 503 with Callguard-Pushback -1 and no Retry-After, whatever
// delay the error carries, so that no tier above retries into the fault
// ("overloaded: don't retry" travels upward). The same goes for an error
// that matches retry.ErrExhausted (the client gave up retrying, whatever
// the last attempt's error; a permanent, loop or hop error keeps its
// status), and for the [ResponseError] of a 503 or 429 response, which the
// transport hands back after its retries: the tier next to the fault has
// retried, and no other tier may. For a failed response that
// the handler's client returned, pass [ResponseError](resp): a loop found
// further down is answered with the same 508 and path, so that the first
// caller learns the whole loop. If the response has been started already,
// Error only reports err.
func Error(w http.ResponseWriter, err error) {
	if err == nil {
		return
	}
	err = marked(err)
	if k, _ := classify.Error(err); k == classify.Overloaded || k == classify.Timeout {
		err = relayed{err} // answered "downstream": not this server's load or fault
	}
	if s := findWriter(w); s != nil && s.report(err) {
		return
	}
	writeError(w, err, true)
}

// A relayed error is an overloaded error or a timeout that a handler
// passed on from its own calls through [Error]. Its answer carries
// Callguard-Error: downstream, so that the caller's throttle and breaker
// do not count it as this server's load or fault (callguard.ErrDownstream):
// the throttle and the breaker next to the dependency that failed act on
// it.
type relayed struct{ error }

func (e relayed) Unwrap() error { return e.error }

// findWriter returns the Handler's state under w, or nil.
func findWriter(w http.ResponseWriter) *serving {
	for i := 0; i < 16 && w != nil; i++ {
		if s, ok := w.(interface{ state() *serving }); ok {
			return s.state()
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return nil
		}
		w = u.Unwrap()
	}
	return nil
}

// writeError writes the response for err; with internal false, without
// the names of internal services (a loop's path), for an [Edge] server.
func writeError(w http.ResponseWriter, err error, internal bool) {
	kind, delay := classify.Error(err)
	code := http.StatusInternalServerError
	h := w.Header()
	switch kind {
	case classify.Overloaded:
		code = http.StatusServiceUnavailable
		h.Set(headerPushback, callguard.FormatPushback(delay))
		if internal {
			setUnavailable(h, err) // route.go; never at an Edge server
			if errors.As(err, new(relayed)) {
				h.Set(headerError, propagation.DownstreamReason)
			}
		}
		if delay > 0 {
			secs := (min(delay, callguard.MaxPushback) + time.Second - 1) / time.Second
			h.Set(headerRetryAfter, strconv.FormatInt(int64(secs), 10))
		}
	case classify.Timeout:
		code = http.StatusGatewayTimeout
		if classify.TooLate(err) {
			h.Set(headerPushback, callguard.FormatPushback(0))
		}
		if internal && errors.As(err, new(relayed)) {
			h.Set(headerError, propagation.DownstreamReason)
		}
	case classify.Loop:
		code = http.StatusLoopDetected
		h.Set(headerError, "loop")
		var le *ttl.LoopError
		if internal && errors.As(err, &le) {
			if path := ttl.FormatPath(le.Path); path != "" {
				h.Set(ttl.PathHeader, path)
			}
		}
	case classify.Hops:
		code = http.StatusLoopDetected
		h.Set(headerError, "hops")
	case classify.Canceled:
		code = http.StatusServiceUnavailable
	}
	http.Error(w, http.StatusText(code), code)
}
