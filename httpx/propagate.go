package httpx

import (
	"context"
	"net/http"

	"github.com/callguard/callguard/internal/propagation"
)

// headerRequestID is the correlation id's header, in canonical form.
var headerRequestID = propagation.RequestID.Header()

// A wire holds what an attempt sends of its context (see
// [propagation.Outbound]). The zero wire sends nothing.
type wire struct {
	out propagation.Outbound
	on  bool // read a context: the caller's callguard headers are replaced
}

// read fills w from the attempt's context ctx. It returns the error that
// stops the attempt before it is sent: [ttl.ErrExhausted] when the request
// has no hops left, [ErrNoTimeLeft] when ctx has no time left.
func (w *wire) read(ctx context.Context) error {
	err := w.out.Read(ctx, true)
	w.on = err == nil
	if err == propagation.ErrNoTimeLeft {
		return ErrNoTimeLeft
	}
	return err
}

// changes reports whether w changes the header h of the caller's request:
// whether the attempt needs a copy of it (see [propagation.Changes]).
// A call with nothing to carry, such as the first call of a request that
// no inbound request started and that has no deadline, goes out with the
// caller's header, uncopied.
func (w *wire) changes(h http.Header) bool { return w.on && propagation.Changes(&w.out, header(h)) }

// An outRequest is the request that an attempt sends with headers of its
// own: a shallow copy of the caller's request, and the values of the
// headers that the attempt sets, in one allocation.
type outRequest struct {
	req http.Request
	out propagation.Outbound
}

// request returns a shallow copy of req with context ctx and w's headers
// (see [propagation.Outbound.Write]). The copy's header is a new map; its
// other entries share their values with req's header, which nothing
// writes to.
func (w *wire) request(ctx context.Context, req *http.Request) *http.Request {
	o := &outRequest{req: *req.WithContext(ctx), out: w.out}
	h := make(http.Header, len(req.Header)+5) // and the five fields
	for k, v := range req.Header {
		h[k] = v
	}
	o.out.Write(header(h))
	o.req.Header = h
	return &o.req
}

// inbound returns the context that the handler of r gets: with the hop
// budget, call path, priority, deadline and request id that r carries, as
// far as h trusts them (see [propagation.Inbound]), and cancel, to call when the
// handler is done, or nil. It also echoes the request id in w's header. A
// non-nil err, a [*classify.DeadlineError], means that r has too little
// time left to be served: the caller answers 504.
func (h *handler) inbound(w http.ResponseWriter, r *http.Request) (ctx context.Context, cancel context.CancelFunc, err error) {
	s := &h.prop
	ctx, id := propagation.Inbound(r.Context(), header(r.Header), *s)
	if id != "" {
		w.Header()[headerRequestID] = []string{id}
	}
	return s.Deadline(ctx, propagation.Claimed(header(r.Header)))
}

// header maps a request's header to the fields of [propagation].
type header http.Header

// Get returns the values of f's header.
func (h header) Get(f propagation.Field) []string { return h[f.Header()] }

// Set sets f's header to v.
func (h header) Set(f propagation.Field, v []string) { h[f.Header()] = v }

// Del removes f's header.
func (h header) Del(f propagation.Field) { delete(h, f.Header()) }

// dropClaims removes from hdr, the header of a request to an [Edge]
// server, the callguard headers that Edge ignores or caps, so that no copy
// of them that the handler makes (for an outgoing call) passes a client's
// claim on.
func dropClaims(hdr http.Header) {
	for _, f := range propagation.Claims {
		delete(hdr, f.Header())
	}
}
