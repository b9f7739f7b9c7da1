package httpx

import (
	"context"
	"errors"
	"net/http"

	"github.com/callguard/callguard"
)

// errNotHedgeable refuses, without sending it, a second attempt of a
// request that may not be sent twice at once, while another attempt of it
// is still running.
var errNotHedgeable = callguard.Permanent(errors.New(
	"httpx: request not sent twice at once: its method is not idempotent and it has no Idempotency-Key, or its body has no GetBody"))

// Hedgeable reports whether the transport may send req twice at once, as a
// hedge policy does: it is idempotent as retries see it (a method that RFC
// 9110, section 9.2.2, calls idempotent: GET, HEAD, OPTIONS, TRACE, PUT,
// DELETE; or an Idempotency-Key or X-Idempotency-Key header), and its body,
// if any, can be sent again (req.GetBody).
func Hedgeable(req *http.Request) bool { return replayable(req) && idempotent(req) }

// policyContext returns the context in which the policy runs req: when the
// policy hedges, marked safe to send twice at once if [Hedgeable] says so,
// and not safe otherwise, whatever the caller marked. Without a hedge in
// the policy it is req's context, unchanged.
func (t *transport) policyContext(req *http.Request) context.Context {
	ctx := req.Context()
	switch {
	case !t.hedges:
	case Hedgeable(req):
		ctx = callguard.ContextSafe(ctx)
	case callguard.IsSafe(ctx):
		ctx = callguard.ContextUnsafe(ctx)
	}
	return ctx
}

// hedged is [roundTrip.attempt] for an attempt that runs side by side with
// others of the same round (a hedge: its context takes
// [callguard.OnDiscard]). Each attempt's response waits in rt.pend, and the
// policy releases those it does not return through OnDiscard, which drains
// and closes them; the one left is the round's. A request that is not
// [Hedgeable] is never sent while another attempt of it runs.
func (rt *roundTrip) hedged(ctx context.Context, gen uint64) error {
	rt.mu.Lock()
	if rt.gen != gen || rt.over {
		rt.mu.Unlock()
		return errLate
	}
	if rt.running > 0 && !Hedgeable(rt.req) {
		rt.mu.Unlock()
		return errNotHedgeable
	}
	var old []*http.Response
	if rt.running == 0 {
		old = rt.settle() // a new round: the last one's response is the caller's for now
	}
	rt.n++
	req, n, prev := rt.req, rt.n, rt.err
	rt.running++
	rt.mu.Unlock()
	discardAll(old)

	resp, err := rt.t.send(ctx, req, n, prev)
	if err != nil && !replayable(req) && callguard.Retryable(err) {
		err = callguard.NoRetry(&lastError{err})
	}

	rt.mu.Lock()
	rt.running--
	if rt.over || rt.gen != gen { // abandoned: RoundTrip has returned
		rt.mu.Unlock()
		if resp != nil {
			discard(resp)
		}
		return err
	}
	if resp != nil {
		rt.pend = append(rt.pend, resp)
	}
	rt.err = err
	rt.mu.Unlock()
	if resp != nil {
		callguard.OnDiscard(ctx, func() { rt.drop(resp) })
	}
	return err
}

// drop drains and closes resp, the response of an attempt whose outcome the
// policy does not return, unless RoundTrip has already handed it over or
// let it go.
func (rt *roundTrip) drop(resp *http.Response) {
	rt.mu.Lock()
	found := false
	for i, r := range rt.pend {
		if r == resp {
			rt.pend = append(rt.pend[:i], rt.pend[i+1:]...)
			found = true
			break
		}
	}
	if rt.resp == resp {
		rt.resp, found = nil, true
	}
	rt.mu.Unlock()
	if found {
		discard(resp)
	}
}

// settle ends a round of hedged attempts: the response the policy kept
// becomes rt.resp, and it returns the responses to discard (the one it
// replaces, and any others left). The caller holds rt.mu, and no hedged
// attempt runs.
func (rt *roundTrip) settle() (old []*http.Response) {
	if len(rt.pend) == 0 {
		return nil
	}
	last := len(rt.pend) - 1
	if rt.resp != nil {
		old = append(old, rt.resp)
	}
	old = append(old, rt.pend[:last]...)
	rt.resp = rt.pend[last]
	clear(rt.pend)
	rt.pend = rt.pend[:0]
	return old
}

// discardAll drains and closes each response of rs.
func discardAll(rs []*http.Response) {
	for _, r := range rs {
		discard(r)
	}
}
