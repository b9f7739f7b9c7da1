package grpcx

import (
	"context"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/metadata"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/internal/classify"
	"github.com/callguard/callguard/internal/priority"
	"github.com/callguard/callguard/internal/propagation"
	"github.com/callguard/callguard/ttl"
)

// requestIDKey is the metadata key of the correlation id.
var requestIDKey = propagation.RequestID.Metadata()

// outgoing returns ctx with the outgoing metadata of an attempt made with
// it: callguard-hops, callguard-path when the path is not empty,
// callguard-priority when ctx has a priority other than the default, and
// x-request-id when ctx has one. It returns [ttl.ErrExhausted], and sends
// nothing, when the request has no hops left. The values go after any the
// caller set; servers read the last hops, path and priority, and the first
// x-request-id, so an id that the caller set in the metadata wins.
func outgoing(ctx context.Context) (context.Context, error) {
	hops, path, err := ttl.Outbound(ctx)
	if err != nil {
		return ctx, err
	}
	p := priority.FromContext(ctx)
	id := callguard.RequestIDFromContext(ctx)
	if path == "" && p == priority.Default && id == "" {
		// Hops alone: on a context without metadata, a shared, read-only
		// MD (two allocations instead of four); else the caller's, copied.
		md, ok := metadata.FromOutgoingContext(ctx) // allocates only if ok
		if !ok {
			return metadata.NewOutgoingContext(ctx, hopsMD(hops)), nil
		}
		md[ttl.HopsMetadata] = append(md[ttl.HopsMetadata], hops)
		return metadata.NewOutgoingContext(ctx, md), nil
	}
	var buf [8]string // AppendToOutgoingContext copies it: it stays on the stack
	kv := append(buf[:0], ttl.HopsMetadata, hops)
	if path != "" {
		kv = append(kv, ttl.PathMetadata, path)
	}
	if p != priority.Default {
		kv = append(kv, priority.Metadata, p.String())
	}
	if id != "" {
		kv = append(kv, requestIDKey, id)
	}
	return metadata.AppendToOutgoingContext(ctx, kv...), nil
}

// hopsMDs holds the outgoing metadata of a call that carries hops alone,
// one per hop count, made on first use. Nothing writes to them: gRPC and
// metadata.FromOutgoingContext copy what they change.
var hopsMDs [ttl.MaxHops + 1]atomic.Pointer[metadata.MD]

// hopsMD returns the metadata {callguard-hops: hops}, shared.
func hopsMD(hops string) metadata.MD {
	n, err := ttl.ParseHops(hops)
	if err != nil { // Outbound's values always parse
		return metadata.MD{ttl.HopsMetadata: {hops}}
	}
	if md := hopsMDs[n].Load(); md != nil {
		return *md
	}
	md := metadata.MD{ttl.HopsMetadata: {ttl.FormatHops(n)}}
	hopsMDs[n].CompareAndSwap(nil, &md)
	return *hopsMDs[n].Load()
}

// incomingMD maps the incoming metadata of a call to the fields of
// [propagation]. The client interceptors send their hops, path and
// priority after any that the caller set, so the last of these is the
// newest: Get returns it alone. Request ids come as sent, the first
// counting, as in httpx. Get copies only the values of one key, not the
// whole metadata as metadata.FromIncomingContext does.
type incomingMD struct{ ctx context.Context }

// Get returns the values of f's key.
func (m incomingMD) Get(f propagation.Field) []string {
	v := metadata.ValueFromIncomingContext(m.ctx, f.Metadata())
	if f != propagation.RequestID && len(v) > 1 {
		return v[len(v)-1:]
	}
	return v
}

// untrusted returns ctx with the metadata of the callers' claims
// ([propagation.Claims]) taken out of its incoming metadata, so that a
// handler that copies the metadata to an outgoing call does not pass an
// untrusted client's claim on to a server that trusts its callers. It
// copies the metadata only when one of them is there.
func untrusted(ctx context.Context) context.Context {
	for _, f := range propagation.Claims {
		if k := f.Metadata(); k != "" && metadata.ValueFromIncomingContext(ctx, k) != nil {
			md, _ := metadata.FromIncomingContext(ctx) // a copy, keys in lower case
			for _, f := range propagation.Claims {
				delete(md, f.Metadata())
			}
			return metadata.NewIncomingContext(ctx, md)
		}
	}
	return ctx
}

// idHeader returns the response header that echoes request id id.
func idHeader(id string) metadata.MD { return metadata.MD{requestIDKey: {id}} }

// inbound returns the context a server policy runs with: the hop budget,
// path and priority of the call (unless edge), its request id, and its deadline after
// the margin and the maximum. cancel, when not nil, must be called when the
// call ends. A call that cannot finish in time gets a DeadlineExceeded
// error.
func (s *server) inbound(ctx context.Context) (_ context.Context, cancel context.CancelFunc, _ error) {
	ctx, _ = propagation.Inbound(ctx, incomingMD{ctx}, propagation.Server{Edge: s.edge, RequestIDs: s.requestIDs})
	if s.edge {
		ctx = untrusted(ctx)
	}
	if s.margin == 0 && s.maxDeadline == 0 && s.minService == 0 {
		return ctx, nil, nil
	}
	return s.deadline(ctx)
}

// deadline applies the margin, the maximum deadline and the minimum service
// time to ctx; see inbound.
func (s *server) deadline(ctx context.Context) (context.Context, context.CancelFunc, error) {
	dl, ok := ctx.Deadline()
	if !ok && s.maxDeadline == 0 {
		return ctx, nil, nil
	}
	now := time.Now()
	set := dl
	if ok {
		set = dl.Add(-s.margin)
	}
	if s.maxDeadline > 0 && (!ok || set.Sub(now) > s.maxDeadline) {
		set = now.Add(s.maxDeadline)
	}
	if left := set.Sub(now); left <= 0 || left < s.minService {
		return ctx, nil, &classify.DeadlineError{Pkg: "grpcx", Left: left, Min: s.minService}
	}
	if ok && set.Equal(dl) {
		return ctx, nil, nil
	}
	ctx, cancel := context.WithDeadline(ctx, set)
	return ctx, cancel, nil
}
