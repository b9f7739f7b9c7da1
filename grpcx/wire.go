package grpcx

import (
	"context"
	"sync/atomic"

	"google.golang.org/grpc/metadata"

	"github.com/callguard/callguard/internal/propagation"
	"github.com/callguard/callguard/ttl"
)

// requestIDKey is the metadata key of the correlation id.
var requestIDKey = propagation.RequestID.Metadata()

// outgoing returns ctx with the outgoing metadata of an attempt made with
// it, what [propagation.Outbound] reads from ctx: callguard-hops,
// callguard-path when the path is not empty, callguard-priority when ctx
// has a priority other than the default, x-request-id when ctx has one,
// callguard-attempt for a retry or hedge, and callguard-synthetic when ctx
// is synthetic. These replace the caller's own values of the keys, as
// httpx's transport replaces its headers (see [propagation.Outbound.Write]), so
// that a server, which reads the first value, reads the context's. It
// returns [ttl.ErrExhausted], and sends nothing, when the request has no
// hops left.
func outgoing(ctx context.Context) (context.Context, error) {
	var o propagation.Outbound
	if err := o.Read(ctx, false); err != nil {
		return ctx, err
	}
	if !propagation.Changes(&o, outgoingCtx{ctx}) {
		return ctx, nil // nothing to carry, nothing of the caller's to drop
	}
	if o.Alone(propagation.Hops) || propagation.Holds(outgoingCtx{ctx}) { // hops alone, or keys of the caller's to replace
		md, ok := metadata.FromOutgoingContext(ctx) // a copy; allocates only if ok
		if !ok {
			// Hops alone: a shared, read-only MD (two allocations, not four).
			return metadata.NewOutgoingContext(ctx, hopsMD(o.Get(propagation.Hops))), nil
		}
		out := o // the metadata holds slices of it
		out.Write(outgoingMD(md))
		return metadata.NewOutgoingContext(ctx, md), nil
	}
	// Nothing of the caller's to replace: o's values go after its own.
	var buf [12]string // AppendToOutgoingContext copies it: it stays on the stack
	return metadata.AppendToOutgoingContext(ctx, o.AppendPairs(buf[:0])...), nil
}

// outgoingCtx maps the outgoing metadata of a call's context to the
// fields of [propagation], copying nothing.
type outgoingCtx struct{ ctx context.Context }

// Get returns the values of f's key; nil for a field that gRPC does not
// carry as metadata (Timeout: it sends its own deadline).
func (m outgoingCtx) Get(f propagation.Field) []string {
	k := f.Metadata()
	if k == "" {
		return nil
	}
	return metadata.ValueFromOutgoingContext(m.ctx, k)
}

// outgoingMD maps a copy of a call's outgoing metadata to the fields of
// [propagation].
type outgoingMD metadata.MD

// Get returns the values of f's key.
func (m outgoingMD) Get(f propagation.Field) []string { return m[f.Metadata()] }

// Set sets f's key to v.
func (m outgoingMD) Set(f propagation.Field, v []string) { m[f.Metadata()] = v }

// Del removes f's key.
func (m outgoingMD) Del(f propagation.Field) { delete(m, f.Metadata()) }

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
// [propagation], which reads the first value of each, as httpx does. Get
// copies only the values of one key, not the whole metadata as
// metadata.FromIncomingContext does.
type incomingMD struct{ ctx context.Context }

// Get returns the values of f's key.
func (m incomingMD) Get(f propagation.Field) []string {
	return metadata.ValueFromIncomingContext(m.ctx, f.Metadata())
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
// path and priority of the call (unless edge), its request id, and its
// deadline after the margin and the maximum (see
// [propagation.Server.Deadline]). cancel, when not nil, must be called
// when the call ends. A call that cannot finish in time gets a
// *classify.DeadlineError.
func (s *server) inbound(ctx context.Context) (_ context.Context, cancel context.CancelFunc, _ error) {
	ps := &s.prop
	ctx, _ = propagation.Inbound(ctx, incomingMD{ctx}, *ps)
	if ps.Edge {
		ctx = untrusted(ctx)
	}
	return ps.Deadline(ctx, propagation.Native(ctx))
}
