package hedge

import "context"

type safeKey struct{}

type attemptKey struct{}

// ContextSafe returns a copy of ctx that marks the call as safe to send
// more than once: repeating it has no effect beyond the first (an
// idempotent or read-only call). A [Hedger] with the default [WithSafe]
// hedges only calls so marked.
func ContextSafe(ctx context.Context) context.Context {
	return context.WithValue(ctx, safeKey{}, true)
}

// IsSafe reports whether ctx was marked by [ContextSafe].
func IsSafe(ctx context.Context) bool {
	v, _ := ctx.Value(safeKey{}).(bool)
	return v
}

// OnDiscard registers release to free the result of the attempt whose
// context is ctx (a response body to drain and close) if that result is
// not the one the call returns: the [Hedger] calls release after the
// attempt returned, before Do returns, for every attempt but the one whose
// outcome Do returns. A call from the same attempt replaces the function
// registered before.
//
// OnDiscard returns false, and registers nothing, when ctx is not the
// context of a hedged attempt (no Hedger, or the call was not hedgeable):
// the caller then owns its result as usual. It must be called from within
// the attempt, before the attempt returns.
func OnDiscard(ctx context.Context, release func()) bool {
	a, ok := ctx.Value(attemptKey{}).(*attempt)
	if !ok {
		return false
	}
	a.discard = release
	return true
}

// Attempt returns the number of the hedged attempt whose context is ctx: 1
// for the first, 2 for the first hedge, and so on. ok is false when ctx
// is not the context of a hedged attempt.
func Attempt(ctx context.Context) (n int, ok bool) {
	a, ok := ctx.Value(attemptKey{}).(*attempt)
	if !ok {
		return 0, false
	}
	return a.n, true
}
