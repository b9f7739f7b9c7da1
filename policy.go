package callguard

import "context"

// A Handler runs call under some policy and returns what call returned, or
// the policy's own error when it refused or gave up on the call.
//
// ctx and call are the only per-call values: a pipeline passes them down as
// arguments, so composing handlers allocates nothing per call.
//
// A handler runs call with ctx or with a context derived from it (by
// context.WithTimeout, context.WithoutCancel and the like), never with a
// context of its own making: a call may find what it belongs to through
// its context, as the server adapters' calls find their request.
type Handler func(ctx context.Context, call func(context.Context) error) error

// A Policy wraps the next handler of a pipeline in its own behaviour.
//
// Wrap runs once, when the pipeline is built; the handler it returns runs on
// every call and must be safe for concurrent use.
type Policy interface {
	Wrap(next Handler) Handler
}

// PolicyFunc adapts a function to the Policy interface.
type PolicyFunc func(next Handler) Handler

// Wrap returns f(next).
func (f PolicyFunc) Wrap(next Handler) Handler { return f(next) }

// Invoke is the innermost Handler of every pipeline: it runs call with ctx.
// A policy's Do method runs its own handler around Invoke, so that Do and
// Wrap share one code path.
func Invoke(ctx context.Context, call func(context.Context) error) error {
	return call(ctx)
}
