package httpx

import (
	"context"
	"net/http"
	"time"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/internal/classify"
	"github.com/callguard/callguard/internal/priority"
	"github.com/callguard/callguard/internal/propagation"
	"github.com/callguard/callguard/timeout"
	"github.com/callguard/callguard/ttl"
)

// headerRequestID is the correlation id's header, in canonical form.
var headerRequestID = propagation.RequestID.Header()

// A wire holds what an attempt sends of its context: the values of the
// callguard headers and of X-Request-Id. The zero wire sends nothing; a
// wire that read a context always has hops.
type wire struct {
	hops, path, timeout, priority, requestID string
}

// read fills w from the attempt's context ctx. It returns the error that
// stops the attempt before it is sent: [ttl.ErrExhausted] when the request
// has no hops left, [ErrNoTimeLeft] when ctx has no time left.
func (w *wire) read(ctx context.Context) error {
	hops, path, err := ttl.Outbound(ctx)
	if err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok {
		left := time.Until(dl)
		if left <= 0 {
			return ErrNoTimeLeft
		}
		w.timeout = timeout.FormatWire(left)
	}
	w.hops, w.path = hops, path
	if p := priority.FromContext(ctx); p != priority.Default {
		w.priority = p.String()
	}
	w.requestID = callguard.RequestIDFromContext(ctx)
	return nil
}

// An outRequest is the request that an attempt sends with headers of its
// own: a shallow copy of the caller's request, and the values of the
// headers that the attempt sets, in one allocation.
type outRequest struct {
	req  http.Request
	vals [5]string
}

// request returns a shallow copy of req with context ctx and w's headers.
// The copy's header is a new map: the callguard headers are w's (a value
// that w lacks is not sent, whatever req has), except that req's own valid
// Callguard-Priority is kept when w has none; X-Request-Id is w's when it
// has one, and the other entries share their values with req's header,
// which nothing writes to.
func (w *wire) request(ctx context.Context, req *http.Request) *http.Request {
	o := &outRequest{req: *req.WithContext(ctx)}
	h := make(http.Header, len(req.Header)+len(o.vals))
	for k, v := range req.Header {
		switch k {
		case ttl.HopsHeader, ttl.PathHeader, timeout.Header:
			continue // set from ctx, or not at all
		case priority.Header:
			if _, ok := priority.Parse(first(v)); !ok || w.priority != "" {
				continue // the context's wins; an invalid one is not sent
			}
		}
		h[k] = v
	}
	o.vals = [...]string{w.hops, w.path, w.timeout, w.priority, w.requestID}
	for i, k := range [...]string{ttl.HopsHeader, ttl.PathHeader, timeout.Header, priority.Header, headerRequestID} {
		if o.vals[i] != "" {
			h[k] = o.vals[i : i+1 : i+1]
		}
	}
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
	ctx, id := propagation.Inbound(r.Context(), header(r.Header), propagation.Server{Edge: h.edge, RequestIDs: h.requestIDs})
	if id != "" {
		w.Header()[headerRequestID] = []string{id}
	}
	return h.deadline(ctx, r.Header)
}

// header maps an inbound request's header to the fields of [propagation].
type header http.Header

// Get returns the values of f's header.
func (h header) Get(f propagation.Field) []string { return h[f.Header()] }

// dropClaims removes from hdr, the header of a request to an [Edge]
// server, the callguard headers that Edge ignores or caps, so that no copy
// of them that the handler makes (for an outgoing call) passes a client's
// claim on.
func dropClaims(hdr http.Header) {
	for _, f := range propagation.Claims {
		delete(hdr, f.Header())
	}
}

// deadline sets ctx's deadline from the request's Callguard-Timeout, less
// the margin, and the server's max deadline. It returns a
// [*classify.DeadlineError] when the time left is not enough to serve the
// request.
func (h *handler) deadline(ctx context.Context, hdr http.Header) (context.Context, context.CancelFunc, error) {
	d, set := h.maxDeadline, h.maxDeadline > 0
	if v := hdr[timeout.Header]; len(v) > 0 && (!h.edge || set) {
		if td, err := timeout.ParseWire(v[0]); err == nil && (!set || td-h.margin < d) {
			d, set = td-h.margin, true
		}
	}
	var cancel context.CancelFunc
	if set {
		ctx, cancel = context.WithTimeout(ctx, d)
	}
	dl, ok := ctx.Deadline()
	if !ok {
		return ctx, cancel, nil
	}
	// Measured once the context exists, so that a deadline that passes as
	// it is made (Callguard-Timeout: 1n) is refused as one that had passed.
	if left := time.Until(dl); left <= 0 || left < h.minServiceTime {
		return ctx, cancel, &classify.DeadlineError{Pkg: "httpx", Left: left, Min: h.minServiceTime}
	}
	return ctx, cancel, nil
}

// first returns the first of a header's values, or "".
func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}
