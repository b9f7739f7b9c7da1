package breaker

import (
	"unsafe"

	"github.com/sony/gobreaker/v2"
)

// Allow is the two-step form of [Breaker.Do], for a caller that cannot run
// the call inside a function (a load balancer's picker learns the outcome
// of an RPC in a callback). If the circuit lets a call through, Allow
// returns done, which the caller must call exactly once with the call's
// error (nil for a success) when the call has finished; errors are
// classified as in Do, and the slow-call rule times the span from Allow to
// done. Otherwise it returns [ErrOpen] and a nil done.
//
// Unlike Do, Allow allocates its done function on every call.
func (cb *Breaker) Allow() (done func(err error), err error) {
	if u := cb.openUntil.Load(); u != 0 && cb.nanos() < u {
		return nil, ErrOpen
	}
	if cb.mode.Load() == modeDisabled {
		return func(error) {}, nil
	}
	gdone, err := cb.twoStep().Allow()
	if err != nil {
		return nil, rejection(err)
	}
	if cb.clock != nil && cb.nanos() < cb.openUntil.Load() {
		gdone(errExcluded) // opened under our feet: see stateChanged
		return nil, ErrOpen
	}
	var start int64
	if cb.slowCall > 0 {
		start = cb.nanos()
	}
	return func(err error) {
		v := cb.verdict(err)
		if cb.slowCall > 0 && v != errExcluded && cb.nanos()-start > int64(cb.slowCall) {
			v = errSlowCall
		}
		gdone(v)
	}, nil
}

// twoStepView has the layout of gobreaker.TwoStepCircuitBreaker, whose only
// field is the *CircuitBreaker it wraps: gobreaker has no other way to take
// the two steps on an existing CircuitBreaker, and Do needs the one-step
// Execute, which allocates nothing, where the TwoStepCircuitBreaker's Allow
// allocates its callback. TestAllowSharesState checks that the view works
// on the version of gobreaker in go.mod, and the assertion below that the
// layouts still match in size.
type twoStepView struct {
	cb *gobreaker.CircuitBreaker[struct{}]
}

var _ [unsafe.Sizeof(gobreaker.TwoStepCircuitBreaker[struct{}]{}) - unsafe.Sizeof(twoStepView{})]struct{}
var _ [unsafe.Sizeof(twoStepView{}) - unsafe.Sizeof(gobreaker.TwoStepCircuitBreaker[struct{}]{})]struct{}

// twoStep returns cb's circuit breaker seen as a TwoStepCircuitBreaker.
func (cb *Breaker) twoStep() *gobreaker.TwoStepCircuitBreaker[struct{}] {
	return (*gobreaker.TwoStepCircuitBreaker[struct{}])(unsafe.Pointer(&cb.view))
}
