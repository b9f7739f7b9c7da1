package callguard

import (
	"context"
	"runtime"
	"sync/atomic"
)

// A Doer runs a call under a policy. A [Pipeline] is one, and so is every
// policy of this module (retry.Retry, breaker.Breaker, ...).
type Doer interface {
	Do(ctx context.Context, call func(context.Context) error) error
}

// Get runs fn through p and returns the value and error of the call, or the
// zero T and the policy's error when p refused or gave up on it:
//
//	user, err := callguard.Get(ctx, p, func(ctx context.Context) (User, error) {
//		return users.Lookup(ctx, id)
//	})
//
// Get allocates as much as a [Pipeline.Do] whose closure stores the result
// in a captured variable, and no more. It returns a value only from a call
// of fn that succeeded: when p returns nil without one (a [Fallback] that
// handled the error), Get returns the zero T and nil. To supply a value
// instead, use [GetOr]. A call that a timeout abandoned may still store its
// value while Get returns; Get is safe for that.
func Get[T any](ctx context.Context, p Doer, fn func(context.Context) (T, error)) (T, error) {
	r := &result[T]{fn: fn}
	err := p.Do(ctx, r.call)
	return r.take(err)
}

// GetOr is [Get] with a fallback: when the call through p fails, GetOr
// returns what fallback returns for the error. fallback runs on the
// caller's goroutine after p has returned; a nil fallback makes GetOr Get.
//
//	price, err := callguard.GetOr(ctx, p, quotes.Fetch, func(ctx context.Context, err error) (Price, error) {
//		return cache.Last(), nil // stale, but better than nothing
//	})
//
// Put a fallback here rather than a [Fallback] in p: only GetOr can supply
// the value.
func GetOr[T any](ctx context.Context, p Doer, fn func(context.Context) (T, error), fallback func(context.Context, error) (T, error)) (T, error) {
	v, err := Get(ctx, p, fn)
	if err == nil || fallback == nil {
		return v, err
	}
	return fallback(ctx, err)
}

// States of a result. A call that returns after the caller has taken the
// result (an abandoned call) finds it closed and drops its value.
const (
	resultOpen    int32 = iota // no value yet
	resultWriting              // a call is storing its value
	resultSet                  // a value is stored
	resultClosed               // taken without a value
)

// A result carries fn's value out of a pipeline that only passes errors.
// Its call method is what the pipeline runs; take reads the value once p
// has returned.
type result[T any] struct {
	fn    func(context.Context) (T, error)
	state atomic.Int32
	v     T
}

func (r *result[T]) call(ctx context.Context) error {
	v, err := r.fn(ctx)
	if err != nil {
		return err
	}
	// A later attempt's success replaces nothing: the first success is the
	// one the pipeline returns, since no policy retries a success.
	if r.state.CompareAndSwap(resultOpen, resultWriting) {
		r.v = v
		r.state.Store(resultSet)
	}
	return nil
}

func (r *result[T]) take(err error) (T, error) {
	var zero T
	if err != nil {
		return zero, err
	}
	if r.state.Load() != resultSet {
		if r.state.CompareAndSwap(resultOpen, resultClosed) {
			return zero, nil
		}
		for r.state.Load() == resultWriting { // an abandoned call is storing its value now
			runtime.Gosched()
		}
	}
	return r.v, nil
}
