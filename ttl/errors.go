package ttl

import "strings"

// ErrExhausted is returned, before anything is sent, by a call whose request
// has no hops left. It is permanent: never retried, never a breaker failure.
// Servers answer it with HTTP 508 / gRPC FailedPrecondition and
// Callguard-Error: hops.
var ErrExhausted error = exhaustedError{}

type exhaustedError struct{}

func (exhaustedError) Error() string          { return "ttl: hop budget exhausted" }
func (exhaustedError) Permanent() bool        { return true }
func (exhaustedError) CallguardError() string { return "hops" }

// ErrLoop is matched by every [LoopError].
var ErrLoop error = loopSentinel{}

type loopSentinel struct{}

func (loopSentinel) Error() string          { return "ttl: call loop" }
func (loopSentinel) Permanent() bool        { return true }
func (loopSentinel) CallguardError() string { return "loop" }

// A LoopError reports that a request came back to a service it had already
// passed through: a cycle in the call graph. It matches [ErrLoop], is
// permanent (never retried, never a breaker failure), and carries the whole
// path, the repeated service last.
type LoopError struct {
	// Path lists the services the request passed through, in order, ending
	// with the service that found the loop: orders → billing → orders.
	Path []string
}

func (e *LoopError) Error() string {
	return "ttl: call loop: " + strings.Join(e.Path, " → ")
}

// Is reports whether target is [ErrLoop].
func (e *LoopError) Is(target error) bool { return target == ErrLoop }

// Permanent reports true: a loop is not fixed by trying again.
func (e *LoopError) Permanent() bool { return true }

// CallguardError returns "loop", the wire code of Callguard-Error.
func (e *LoopError) CallguardError() string { return "loop" }
