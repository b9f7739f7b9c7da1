package route

import (
	"errors"
	"time"

	"github.com/callguard/callguard"
)

// ErrUnavailable is matched by the error of a request that a [Table]
// refused because its route needs a dependency that is down. It matches
// [callguard.ErrRejected] and [callguard.ErrOverloaded]: the request never
// left the client, so a breaker does not count it and retry does not
// retry it.
var ErrUnavailable = callguard.NewRejection("route: dependency unavailable")

// A RefusedError is returned for a request that a [Table] refused. It
// matches [ErrUnavailable] (and so [callguard.ErrRejected]).
type RefusedError struct {
	Route      string    // the request's route key
	Dependency string    // a dependency of the route that is down
	Until      time.Time // when the outage is expected to end
}

func (e *RefusedError) Error() string {
	return "route: " + e.Route + " needs " + e.Dependency + ", unavailable"
}

// Unwrap returns [ErrUnavailable].
func (e *RefusedError) Unwrap() error { return ErrUnavailable }

// An UnavailableError names the dependency whose outage made a call fail:
// the adapters' WithDependency options wrap such a failure in it, and a
// server adapter that answers with it writes the dependency's name and
// For in its answer (except at an Edge server). It keeps the class of
// Err: an open breaker's error still matches breaker.ErrOpen and is
// answered 503 or Unavailable, "don't retry".
type UnavailableError struct {
	Dependency string        // the dependency that is down, e.g. "payments"
	For        time.Duration // how long the outage is expected to last; 0: unknown
	Err        error         // the call's error
}

func (e *UnavailableError) Error() string {
	s := "route: " + e.Dependency + " unavailable"
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the call's error.
func (e *UnavailableError) Unwrap() error { return e.Err }

// Is reports whether target is [callguard.ErrDownstream].
func (e *UnavailableError) Is(target error) bool { return target == callguard.ErrDownstream }

// Down reports the dependency that err says is down, and for how long (0:
// unknown), when err is or wraps an [*UnavailableError] (a callee's
// answer, or a failure that an adapter's WithDependency named) or a
// [*RefusedError] (a table's refusal; its Until is read against the system
// clock). The server adapters call it on the error they answer with, so
// that a tier that passes such an error on names the outage to its own
// callers, and the edge learns it however deep the dependency is.
func Down(err error) (dep string, d time.Duration, ok bool) {
	if ue, ok := errors.AsType[*UnavailableError](err); ok {
		return ue.Dependency, ue.For, true
	}
	if re, ok := errors.AsType[*RefusedError](err); ok {
		return re.Dependency, max(time.Until(re.Until), 0), true
	}
	return "", 0, false
}
