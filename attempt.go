package callguard

import (
	"context"
	"strconv"
)

// Context keys of the attempt values. Each is its own type, so that a
// lookup of one never finds another.
type (
	attemptKey        struct{}
	inboundAttemptKey struct{}
	safeKey           struct{}
	discardKey        struct{}
)

// Attempt returns the number of the attempt whose context is ctx: 1 for
// the first attempt of a call, and for a context that no policy marked;
// 2 and above for a retry or a hedge. Adapters send it to the server when
// it is above 1 (Callguard-Attempt, callguard-attempt), so that the
// server can shed repeated work first; see [InboundAttempt].
func Attempt(ctx context.Context) int {
	if n, ok := ctx.Value(attemptKey{}).(int); ok {
		return n
	}
	return 1
}

// ContextWithAttempt returns ctx for attempt k of a call that a policy
// repeats (a retry, a hedge): [Attempt] of the result is Attempt(ctx)+k-1,
// so that nested policies add up their extra attempts (the second hedge
// of the third retry is attempt 4). k = 1 returns ctx itself, which keeps
// a call's first attempt free of allocations. It panics if k < 1.
func ContextWithAttempt(ctx context.Context, k int) context.Context {
	if k < 1 {
		panic("callguard: attempt must be >= 1, got " + strconv.Itoa(k))
	}
	if k == 1 {
		return ctx
	}
	return context.WithValue(ctx, attemptKey{}, Attempt(ctx)+k-1)
}

// InboundAttempt returns the attempt number that the caller of an inbound
// request gave it (Callguard-Attempt), as a server adapter read it: 1 for
// a first attempt, for a request that carried none, and for one from an
// untrusted caller (an Edge server ignores it). It is not [Attempt]: a
// handler's own outgoing calls are first attempts of their own.
func InboundAttempt(ctx context.Context) int {
	if n, ok := ctx.Value(inboundAttemptKey{}).(int); ok {
		return n
	}
	return 1
}

// ContextWithInboundAttempt returns ctx for an inbound request that its
// caller sent as attempt n: the server adapters call it, and tests that
// run a server policy without an adapter. n ≤ 1 returns ctx itself.
func ContextWithInboundAttempt(ctx context.Context, n int) context.Context {
	if n <= 1 {
		return ctx
	}
	return context.WithValue(ctx, inboundAttemptKey{}, n)
}

// ContextSafe returns a copy of ctx that marks the call as safe to send
// more than once: repeating it has no effect beyond the first (an
// idempotent or read-only call). A hedge policy by default hedges only
// calls so marked.
func ContextSafe(ctx context.Context) context.Context {
	return context.WithValue(ctx, safeKey{}, true)
}

// ContextUnsafe returns a copy of ctx that marks the call as not safe to
// send more than once, overriding a [ContextSafe] of a caller above: the
// adapters mark so a request that they must not send twice at once (an
// HTTP POST without an Idempotency-Key, a gRPC method not declared
// idempotent).
func ContextUnsafe(ctx context.Context) context.Context {
	return context.WithValue(ctx, safeKey{}, false)
}

// IsSafe reports whether ctx was marked by [ContextSafe], and not by a
// [ContextUnsafe] below it.
func IsSafe(ctx context.Context) bool {
	v, _ := ctx.Value(safeKey{}).(bool)
	return v
}

// OnDiscard registers release to free the result of the attempt whose
// context is ctx (a response body to drain and close) in case the policy
// that runs attempts side by side does not return it: the policy calls
// release after the attempt returned, before the call returns, for every
// attempt but the one whose outcome it returns. A second call from the
// same attempt replaces the function registered before.
//
// OnDiscard returns false, and registers nothing, when ctx is not the
// context of such an attempt ([AttemptContext]): the caller then owns its
// result as usual. It must be called from within the attempt.
func OnDiscard(ctx context.Context, release func()) bool {
	a, ok := ctx.Value(discardKey{}).(*AttemptContext)
	if !ok {
		return false
	}
	a.discard = release
	return true
}

// An AttemptContext is the context of one attempt of a policy that runs
// attempts side by side and returns the outcome of one (a hedge). It
// carries the attempt's number ([Attempt]) and the function that
// [OnDiscard] registers. A policy embeds it in its per-attempt state, so
// that the attempt's context costs no allocation of its own. An
// AttemptContext belongs to one attempt; it is not safe for concurrent use
// beyond the context methods. The zero value is not usable; call
// [AttemptContext.Init].
type AttemptContext struct {
	context.Context
	n       int
	discard func()
}

// Init makes a the context of attempt k of the call whose context is
// parent, as [ContextWithAttempt] numbers it. It panics if k < 1.
func (a *AttemptContext) Init(parent context.Context, k int) {
	if k < 1 {
		panic("callguard: attempt must be >= 1, got " + strconv.Itoa(k))
	}
	a.Context, a.n, a.discard = parent, Attempt(parent)+k-1, nil
}

// Value returns the attempt's number for the key of [Attempt], a itself
// for that of [OnDiscard], and what the parent holds otherwise.
func (a *AttemptContext) Value(key any) any {
	switch key.(type) {
	case attemptKey:
		return a.n // no allocation below 256: Go boxes small integers statically
	case discardKey:
		return a
	}
	return a.Context.Value(key)
}

// Discard calls the function that the attempt registered with
// [OnDiscard], if any, once. The policy calls it, after the attempt
// returned, when it does not return the attempt's outcome.
func (a *AttemptContext) Discard() {
	if f := a.discard; f != nil {
		a.discard = nil
		f()
	}
}
