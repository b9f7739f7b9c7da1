package hedge

import (
	"context"

	"github.com/callguard/callguard"
)

type attemptKey struct{}

// ContextSafe returns a copy of ctx that marks the call as safe to send
// more than once: it is [callguard.ContextSafe], which the adapters read
// without linking this package.
func ContextSafe(ctx context.Context) context.Context { return callguard.ContextSafe(ctx) }

// IsSafe reports whether ctx was marked by [ContextSafe]; it is
// [callguard.IsSafe].
func IsSafe(ctx context.Context) bool { return callguard.IsSafe(ctx) }

// OnDiscard registers release to free the result of the hedged attempt
// whose context is ctx if the call does not return it; see
// [callguard.OnDiscard], which it is.
func OnDiscard(ctx context.Context, release func()) bool { return callguard.OnDiscard(ctx, release) }

// Attempt returns the number of the hedged attempt whose context is ctx
// among the Hedger's attempts: 1 for the first, 2 for the first hedge, and
// so on. ok is false when ctx is not the context of a hedged attempt.
// [callguard.Attempt] numbers the attempt within the whole call, retries
// included, and is what travels on the wire.
func Attempt(ctx context.Context) (n int, ok bool) {
	a, ok := ctx.Value(attemptKey{}).(*attempt)
	if !ok {
		return 0, false
	}
	return a.n, true
}
