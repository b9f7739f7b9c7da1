package grpcx

import (
	"context"
	"strings"

	"google.golang.org/grpc"

	"github.com/callguard/callguard"
)

// WithIdempotent declares methods idempotent: calling one twice has the
// effect of calling it once, so a hedge policy (hedge.Hedger) may send a
// second copy of a call while the first still runs. Only unary calls of
// the methods so declared, or made with [Idempotent], are hedged: the
// interceptor marks them safe to send twice at once
// ([callguard.ContextSafe], one allocation per call) and every other call
// not safe, whatever its context said. Streams are never hedged.
//
// A method is named as gRPC names it to interceptors: "/package.Service/Method".
// WithIdempotent panics, with a message starting "grpcx: ", on a name
// that is not of that form.
func WithIdempotent(methods ...string) ClientOption {
	for _, m := range methods {
		if svc, meth, ok := strings.Cut(strings.TrimPrefix(m, "/"), "/"); !ok || !strings.HasPrefix(m, "/") || svc == "" || meth == "" || strings.Contains(meth, "/") {
			panic(`grpcx: WithIdempotent: method must be "/package.Service/Method", got "` + m + `"`)
		}
	}
	return clientOption(func(o *clientOptions) {
		if o.idempotent == nil {
			o.idempotent = make(map[string]bool, len(methods))
		}
		for _, m := range methods {
			o.idempotent[m] = true
		}
	})
}

// Idempotent returns a call option that declares one call idempotent, as
// [WithIdempotent] declares a method: a hedge policy may send it twice at
// once. It is ignored, harmlessly, by a connection without this package's
// interceptors.
func Idempotent() grpc.CallOption { return idempotentOption{} }

// idempotentOption is the call option made by Idempotent. It embeds
// grpc.EmptyCallOption, so gRPC ignores it.
type idempotentOption struct{ grpc.EmptyCallOption }

// policyContext returns the context in which the policy runs a unary call
// of method: marked safe to send twice at once when the method or the call
// is declared idempotent, not safe when it is not and the caller's context
// said it was, and ctx itself otherwise.
func (c *client) policyContext(ctx context.Context, method string, opts []grpc.CallOption) context.Context {
	switch {
	case c.idempotent[method] || idempotentIn(opts):
		if !callguard.IsSafe(ctx) {
			ctx = callguard.ContextSafe(ctx)
		}
	case callguard.IsSafe(ctx):
		ctx = callguard.ContextUnsafe(ctx)
	}
	return ctx
}

// idempotentIn reports whether opts hold [Idempotent].
func idempotentIn(opts []grpc.CallOption) bool {
	for _, o := range opts {
		if _, ok := o.(idempotentOption); ok {
			return true
		}
	}
	return false
}

// notSafe returns ctx marked not safe to send twice at once if the caller
// marked it safe: a stream is never hedged.
func notSafe(ctx context.Context) context.Context {
	if callguard.IsSafe(ctx) {
		return callguard.ContextUnsafe(ctx)
	}
	return ctx
}
