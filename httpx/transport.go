package httpx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/callguard/callguard"
)

// maxDrain bounds how much of a failed response's body the transport reads
// to free its connection (go-retryablehttp reads 4 KiB too).
const maxDrain = 4 << 10

var (
	errNoResponse = errors.New("httpx: policy returned no error and no response")
	errLate       = errors.New("httpx: attempt started after the round trip ended")
)

// NewTransport returns an [http.RoundTripper] that sends each request
// through next under the policy p: the policy decides whether an attempt
// is made, how often, and with what context. next nil means
// [http.DefaultTransport]; p nil means no policy (each request is sent
// once). The policy is wired once, here.
//
// When the policy gives up on a request that got a response (retries
// exhausted on 503s, a breaker that opened after it), the caller gets that
// last response with a nil error, as the RoundTripper contract requires.
// [ResponseError] turns it into the error the policy saw (see its
// example); without a response, the error comes back as it is.
//
// Each attempt's outcome goes through the classification (see [Classify]
// and [WithClassifier]) to become the error that the policy sees. The
// transport keeps the RoundTripper contract:
//
//   - It never changes the caller's request. An attempt sends a shallow
//     copy when it needs another context, body or header.
//   - A second attempt gets a fresh body from req.GetBody. A request with
//     a body but no GetBody is sent once: a failed attempt's error is
//     marked [callguard.NoRetry] and matches [ErrBodyNotReplayable], so the
//     policy returns at once instead of waiting for an attempt that
//     cannot be made (a policy that tries anyway gets
//     ErrBodyNotReplayable, permanent). The body is never silently dropped.
//   - When there was a response, the caller gets the last one, with err nil
//     and its body intact, even if the policy then gave up (retries
//     exhausted, a breaker that opened). Otherwise the caller gets the
//     policy's error as it is: errors.Is finds breaker.ErrOpen,
//     bulkhead.ErrFull, a [*StatusError] and so on through the *url.Error
//     of [http.Client].
//   - The body of a failed response is read into memory, up to 4 KiB, as
//     soon as the attempt ends, so that its connection is reused by the next
//     attempt while the response stays whole in case it is the one
//     returned. A response that a later one replaces is closed.
//
// It also implements CloseIdleConnections, passed on to next, so that
// [http.Client.CloseIdleConnections] works through it.
//
// # Propagation
//
// Each attempt carries what its context says about the request to the
// server, so that a handler that calls another service with its request's
// context needs no code for it (see [Handler] for the server side). It is
// the attempt's context: a per-attempt timeout's deadline counts when it
// is the sooner.
//
//   - Callguard-Hops and Callguard-Path, from [ttl.Outbound]: one hop less
//     than the request has left, and the path with this service's id. A
//     request with no hops left is not sent: the attempt fails with
//     [ttl.ErrExhausted], which is permanent.
//   - Callguard-Timeout, when the context has a deadline: the time left,
//     as gRPC sends grpc-timeout (the server takes its margin off it, see
//     [WithDeadlineMargin]). With no time left, the attempt is not sent:
//     it fails with [ErrNoTimeLeft].
//   - X-Request-Id, when the context has a request id
//     ([callguard.ContextWithRequestID]); otherwise the request's own, if
//     any, is sent.
//   - Callguard-Priority, when the context has a priority other than the
//     default ([github.com/callguard/callguard/loadshed.NewContext]); otherwise the request's own, if
//     valid, is sent: a caller may set the header itself, and the context
//     wins when both are set.
//
// The transport owns the other Callguard headers: values that the request
// carries are replaced, or dropped when the context has none, so that a
// handler that copies its inbound headers onto an outgoing request passes
// on nothing stale (an [Edge] server removes an untrusted client's
// callguard headers before its handler runs). The request's header is not
// changed: the attempt sends a copy. [WithPropagation](false) turns all of
// this off, for services outside your system.
//
// # Per-attempt timeouts and response bodies
//
// A per-attempt timeout policy cancels the attempt's context when the
// attempt returns, which is before the caller reads the body. So when an
// attempt's context is not the request's (it can be cancelled on its own),
// the request is sent with a context that carries the attempt context's
// values and is cancelled with it only until the response headers arrive;
// from then on it follows the request's context, and it is released when
// the body is closed. The per-attempt timeout bounds the wait for the
// response headers (and the reading of a failed response's first 4 KiB);
// reading the body is bounded by the caller's context.
//
// # Policies
//
// The policy calls the attempt function from within its handler, one
// attempt after another, as the callguard policies do. A policy that
// abandons an attempt (timeout.WithAbandon) is safe too: the abandoned
// attempt's response, if one still comes, is closed, and an attempt that
// starts only after RoundTrip returned fails at once without sending
// anything.
//
// # Hedging
//
// When p holds a hedge (hedge.Hedger), the transport marks each request
// that [Hedgeable] accepts as safe to send twice at once
// ([callguard.ContextSafe]) and every other one as not safe, whatever its
// context said: so a POST without an Idempotency-Key is never hedged, and
// an attempt of it that a policy starts while another runs fails without
// being sent. A hedge's body comes from req.GetBody; the responses of the
// attempts that lose are drained and closed ([callguard.OnDiscard]). Each
// retry or hedge sends its number in Callguard-Attempt (2 and up; a first
// attempt sends none), so that the server sheds it before first attempts.
//
// # Per-request settings
//
// The policy runs with the request's context, so settings that a policy
// reads from the context apply to one request: for example a different
// attempt count for one call through retry's context override
// (retry.ContextWithMaxAttempts):
//
//	req = req.WithContext(retry.ContextWithMaxAttempts(req.Context(), 1))
func NewTransport(next http.RoundTripper, p callguard.Policy, opts ...TransportOption) http.RoundTripper {
	if err := callguard.CheckClient(p); err != nil {
		panic("httpx: NewTransport: " + err.Error())
	}
	o := newTransportOptions(opts)
	if next == nil {
		next = http.DefaultTransport
	}
	if o.classifier == nil {
		maxPushback := o.maxPushback
		o.classifier = func(req *http.Request, resp *http.Response, err error) error {
			return classifyWith(req, resp, err, maxPushback)
		}
	}
	t := &transport{next: next, h: callguard.Invoke, transportOptions: o}
	if p != nil {
		t.h = p.Wrap(callguard.Invoke)
		t.hedges = callguard.HasRole(p, callguard.RoleHedge)
	}
	t.pool.New = func() any { return &roundTrip{t: t} }
	return t
}

// transport is the state shared by the requests of one NewTransport: its
// next RoundTripper, policy and options.
type transport struct {
	next http.RoundTripper
	h    callguard.Handler
	transportOptions
	pool   sync.Pool // of *roundTrip
	hedges bool      // p holds a hedge: policyContext marks the requests (hedge.go)
}

// RoundTrip runs req through the policy.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	rt := t.pool.Get().(*roundTrip)
	gen := rt.start(req)
	// The closure is RoundTrip's own allocation (the only one with
	// WithPropagation(false), TestTransportAllocs): it ties the attempts
	// to this use of rt, so that an abandoned attempt that starts late
	// cannot act on a later request. Propagation adds each attempt's copy
	// of the request and its header map.
	err := t.h(t.policyContext(req), func(ctx context.Context) error { return rt.attempt(ctx, gen) })
	resp, sent, done := rt.finish()
	if done {
		t.pool.Put(rt)
	}
	if !sent && req.Body != nil {
		req.Body.Close() // a RoundTripper closes the body, even on errors
	}
	if resp != nil {
		return resp, nil
	}
	if err == nil {
		err = errNoResponse
	}
	return nil, callguard.ErrorWithRequestID(req.Context(), t.dependency.Named(err))
}

// CloseIdleConnections closes the idle connections of the next
// RoundTripper, if it has such a method.
func (t *transport) CloseIdleConnections() {
	if c, ok := t.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// A roundTrip is the state of one RoundTrip call, pooled.
//
// mu guards every field but t. It matters only when the policy abandons an
// attempt (timeout.WithAbandon), which then runs concurrently with the
// rest, or even starts after RoundTrip returned. Each use of a roundTrip
// has its own gen; an attempt of an earlier use does nothing, and a
// roundTrip with an attempt still running is not reused.
type roundTrip struct {
	t *transport

	mu      sync.Mutex
	gen     uint64           // counts the uses of rt
	req     *http.Request    // the caller's; never changed
	n       int              // attempts started
	running int              // attempts in flight
	over    bool             // RoundTrip has returned
	resp    *http.Response   // last response, nil if none yet
	err     error            // error of the last attempt that finished
	pend    []*http.Response // hedged attempts' responses, not yet released (hedge.go)
}

// start begins a use of rt for req and returns its gen.
func (rt *roundTrip) start(req *http.Request) uint64 {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.gen++
	rt.req, rt.n, rt.over, rt.resp, rt.err = req, 0, false, nil, nil
	return rt.gen
}

// finish ends the use of rt. It returns the response to hand to the
// caller, whether the request was sent (its body handed to next) and
// whether rt may be reused (no abandoned attempt still runs).
func (rt *roundTrip) finish() (resp *http.Response, sent, done bool) {
	rt.mu.Lock()
	rt.over = true
	var old []*http.Response
	if rt.running == 0 {
		old = rt.settle()
	} else { // an abandoned hedged round: none of its responses is the caller's
		old = append(old, rt.pend...)
		clear(rt.pend)
		rt.pend = rt.pend[:0]
	}
	resp, sent, done = rt.resp, rt.n > 0, rt.running == 0
	rt.req, rt.resp, rt.err = nil, nil, nil
	rt.mu.Unlock()
	discardAll(old)
	return resp, sent, done
}

// attempt is the call that the policy runs: one attempt of use gen.
func (rt *roundTrip) attempt(ctx context.Context, gen uint64) error {
	if callguard.OnDiscard(ctx, nil) { // a hedge's attempt: see hedge.go
		return rt.hedged(ctx, gen)
	}
	rt.mu.Lock()
	if rt.gen != gen || rt.over {
		rt.mu.Unlock()
		return errLate
	}
	rt.n++
	req, n, prev := rt.req, rt.n, rt.err
	rt.running++
	rt.mu.Unlock()

	resp, err := rt.t.send(ctx, req, n, prev)
	if err != nil && !replayable(req) && callguard.Retryable(err) {
		// No attempt can follow: say so before the policy waits for one.
		err = callguard.NoRetry(&lastError{err})
	}

	rt.mu.Lock()
	rt.running--
	if rt.over || n != rt.n { // abandoned: the policy has moved on (rt.gen is unchanged while running)
		rt.mu.Unlock()
		if resp != nil {
			discard(resp)
		}
		return err
	}
	var old *http.Response
	if resp != nil {
		old, rt.resp = rt.resp, resp
	}
	rt.err = err
	rt.mu.Unlock()
	if old != nil {
		discard(old)
	}
	return err
}

// send makes attempt n of the caller's request creq with the attempt's
// context ctx; prev is the previous attempt's error. It returns the
// response, if any, and the classified error.
func (t *transport) send(ctx context.Context, creq *http.Request, n int, prev error) (*http.Response, error) {
	var w wire
	if t.propagate {
		if err := w.read(ctx); err != nil {
			if n == 1 && creq.Body != nil {
				creq.Body.Close() // never sent; later attempts use GetBody
			}
			return nil, err
		}
	}
	rctx := creq.Context()
	var l link
	sctx := ctx
	if ctx != rctx && ctx.Done() != rctx.Done() {
		sctx = l.start(ctx)
	}
	req, err := request(sctx, creq, n, prev, &w)
	if err != nil {
		l.release()
		return nil, err
	}
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		l.release()
		return nil, t.classifier(creq, nil, err)
	}
	cerr := t.classifier(creq, resp, nil)
	released := false
	if cerr != nil {
		released = park(resp) // under the attempt's context: its timeout bounds the read
	}
	if l.cancel != nil && !l.detach(resp, released, rctx) {
		// The attempt's context ended as the headers came: the body is cut.
		discard(resp)
		return nil, t.classifier(creq, nil, context.Cause(ctx))
	}
	return resp, cerr
}

// replayable reports whether req can be sent again: it has no body, or a
// GetBody.
func replayable(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

// request returns the request to send for attempt n of req, with context
// ctx and the headers of w: req itself when possible, else a shallow copy
// with ctx, w's headers and, from the second attempt on, a fresh body.
func request(ctx context.Context, req *http.Request, n int, prev error, w *wire) (*http.Request, error) {
	var body io.ReadCloser
	if n > 1 && req.Body != nil && req.Body != http.NoBody {
		if req.GetBody == nil {
			return nil, callguard.Permanent(&replayError{err: ErrBodyNotReplayable, prev: prev})
		}
		var err error
		if body, err = req.GetBody(); err != nil {
			return nil, callguard.Permanent(&replayError{err: fmt.Errorf("httpx: GetBody: %w", err), prev: prev})
		}
	}
	switch {
	case w.changes(req.Header):
		req = w.request(ctx, req)
	case ctx != req.Context() || body != nil:
		req = req.WithContext(ctx)
	}
	if body != nil {
		req.Body = body
	}
	return req, nil
}
