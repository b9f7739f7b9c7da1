package callguard

import "context"

type syntheticKey struct{}

// ContextWithSynthetic returns a copy of ctx that marks the request it
// serves as synthetic: a fake user request, such as one that package probe
// sends on a schedule to check the system in production. The adapters
// (httpx, grpcx) carry the mark on every outgoing call made with the
// context (HTTP header Callguard-Synthetic, gRPC metadata
// callguard-synthetic), and a server that trusts its callers puts it back
// in the handler's context; an Edge server drops it, so that no outside
// client can hide its requests from the metrics.
//
// A service reads the mark with [IsSynthetic] to keep synthetic traffic out
// of business metrics (orders placed, revenue) and to skip side effects
// that a test must not have (charging a card, sending an e-mail), while the
// request still takes the real path through every tier and policy: the
// point of a synthetic request is to fail where a user's would.
func ContextWithSynthetic(ctx context.Context) context.Context {
	if IsSynthetic(ctx) {
		return ctx
	}
	return context.WithValue(ctx, syntheticKey{}, true)
}

// IsSynthetic reports whether ctx carries the mark of
// [ContextWithSynthetic]. It allocates nothing.
func IsSynthetic(ctx context.Context) bool {
	v, _ := ctx.Value(syntheticKey{}).(bool)
	return v
}
