package callguard

import "context"

// A Pipeline is a fixed composition of policies, built by [Chain]. It is
// safe for concurrent use; its zero value runs calls with no policy.
type Pipeline struct {
	policies []Policy
	h        Handler
}

// Chain composes policies into one pipeline. The first policy is the
// outermost: Chain(a, b).Do(ctx, f) runs a around b around f. Nil policies
// are skipped. The handlers are wired here, once; [Pipeline.Do] adds no
// allocation of its own.
//
// A Pipeline is itself a Policy, so pipelines nest:
// Chain(outer, Chain(a, b)) equals Chain(outer, a, b).
func Chain(ps ...Policy) *Pipeline {
	p := &Pipeline{}
	for _, pol := range ps {
		if pol != nil {
			p.policies = append(p.policies, pol)
		}
	}
	p.h = p.Wrap(Invoke)
	return p
}

// Do runs call through every policy of the pipeline and returns its result.
func (p *Pipeline) Do(ctx context.Context, call func(context.Context) error) error {
	if p == nil || p.h == nil {
		return call(ctx)
	}
	return p.h(ctx, call)
}

// Wrap wraps next in the pipeline's policies, the first outermost.
func (p *Pipeline) Wrap(next Handler) Handler {
	if p == nil {
		return next
	}
	for i := len(p.policies) - 1; i >= 0; i-- {
		next = p.policies[i].Wrap(next)
	}
	return next
}

// Fallback returns a policy that calls fn with the error when the rest of
// the pipeline fails, and returns what fn returns. A nil error from fn
// means the fallback handled the failure. Fallback does not run on success.
//
// Place it outermost, so that it sees the final result of retries and
// breakers: Chain(Fallback(fn), retry, breaker, ...).
//
// It panics with "callguard: Fallback with nil function" if fn is nil: a
// fallback that does nothing is a mistake better found when the pipeline
// is built than when its first call fails.
func Fallback(fn func(ctx context.Context, err error) error) Policy {
	if fn == nil {
		panic("callguard: Fallback with nil function")
	}
	return PolicyFunc(func(next Handler) Handler {
		return func(ctx context.Context, call func(context.Context) error) error {
			err := next(ctx, call)
			if err == nil {
				return nil
			}
			return fn(ctx, err)
		}
	})
}
