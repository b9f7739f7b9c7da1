package breaker

import (
	"context"
	"errors"

	"github.com/callguard/callguard"
	"github.com/sony/gobreaker/v2"
)

// ErrOpen is returned, without running the call, while the circuit is open,
// and while it is half-open and every probe slot is taken. It matches
// [callguard.ErrRejected] and [callguard.ErrOverloaded]: the callee never saw
// the call, so an outer breaker does not count it and retry does not retry
// it into the open circuit.
//
// In the half-open state the error's message says that the probe limit was
// reached rather than that the circuit is open, but it still matches ErrOpen
// with errors.Is.
var ErrOpen = callguard.NewRejection("breaker: circuit open")

// errProbeLimit is returned in the half-open state when every probe slot is
// taken (gobreaker's ErrTooManyRequests). It matches ErrOpen and, through it,
// the root rejection classes.
var errProbeLimit error = probeLimitError{}

type probeLimitError struct{}

func (probeLimitError) Error() string { return "breaker: circuit half-open, probe limit reached" }

// Unwrap returns ErrOpen, so that errors.Is matches ErrOpen, ErrRejected and
// ErrOverloaded.
func (probeLimitError) Unwrap() error { return ErrOpen }

// errExcluded is what a call reports to gobreaker when its error is neither a
// success nor a failure; the settings' IsExcluded matches exactly this value.
var errExcluded = errors.New("breaker: excluded")

// errSlowCall is what a call that succeeded, or failed, after the
// slow-call threshold reports to gobreaker: a failure.
var errSlowCall = errors.New("breaker: slow call")

// rejection maps gobreaker's refusals to this package's errors.
func rejection(err error) error {
	switch err {
	case gobreaker.ErrOpenState:
		return ErrOpen
	case gobreaker.ErrTooManyRequests:
		return errProbeLimit
	}
	return err
}

// excluded reports whether err says nothing about the callee's health:
// the caller cancelled, the error is permanent (the callee answered, the
// request was wrong), or the call was refused for load: by a policy inside
// the breaker before it reached the callee (a full bulkhead,
// [callguard.ErrRejected]), or by the callee, which shed it
// ([callguard.ErrOverloaded]). Both match ErrOverloaded. Nor does a
// failure that the callee passed on from its own calls
// ([callguard.ErrDownstream]: a 504 or 503 that says "downstream"): the
// callee is alive and answered; the breaker next to the dependency that
// failed counts it, and a breaker here would refuse the callee's other
// routes too.
func excluded(err error) bool {
	return errors.Is(err, context.Canceled) ||
		errors.Is(err, callguard.ErrOverloaded) ||
		errors.Is(err, callguard.ErrDownstream) ||
		callguard.IsPermanent(err)
}
