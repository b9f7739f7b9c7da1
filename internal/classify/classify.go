// Package classify sorts the errors a server-side handler or policy returns
// into the classes of docs/design.md's status mapping, so that httpx and grpcx
// map them the same way.
package classify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/callguard/callguard"
)

// A Kind is a class of server-side outcome.
type Kind int

const (
	// Other is any other error: HTTP 500, gRPC as the error says.
	Other Kind = iota
	// Overloaded covers shed, full, open and overloaded errors, and a
	// downstream call whose retries were exhausted: HTTP 503, gRPC
	// Unavailable, both with a pushback ("-1" when no delay is known).
	Overloaded
	// Timeout is a deadline that passed: HTTP 504, gRPC DeadlineExceeded.
	Timeout
	// Canceled is a caller that went away: nothing useful can be sent.
	Canceled
	// Loop is a call-path cycle: HTTP 508, gRPC FailedPrecondition, with
	// Callguard-Error: loop.
	Loop
	// Hops is an exhausted hop budget: as Loop, with Callguard-Error: hops.
	Hops
)

// A Coded error names its own wire code for Callguard-Error ("loop",
// "hops"). ttl's errors implement it, so this package needs no import of ttl.
type Coded interface {
	CallguardError() string
}

// Error sorts err. For Overloaded it also returns the pushback delay, zero
// meaning "do not retry".
//
// An error of a retry policy that gave up ([callguard.IsExhausted], as
// retry.ErrExhausted) is Overloaded with no delay, whatever its last
// attempt's error was: the server's own client has retried its dependency
// as far as its policy allowed, so the server's callers must not retry in
// their turn, or retries multiply tier by tier (docs/design.md, "Errors are
// the protocol"). Only a last error that retrying cannot fix keeps its
// class: a permanent error, a loop, an exhausted hop budget.
func Error(err error) (k Kind, pushback time.Duration) {
	if err == nil {
		return Other, 0
	}
	c := code(err)
	switch {
	case callguard.IsExhausted(err) && !callguard.IsPermanent(err) && c == Other:
		return Overloaded, 0
	case errors.Is(err, callguard.ErrOverloaded):
		d, _ := callguard.Pushback(err)
		return Overloaded, d
	case c != Other:
		return c, 0
	case errors.Is(err, context.DeadlineExceeded):
		return Timeout, 0
	case errors.Is(err, context.Canceled):
		return Canceled, 0
	}
	return Other, 0
}

// code returns Loop or Hops for an error that names that wire code, and
// Other for any other error.
func code(err error) Kind {
	// errors.AsType, unlike errors.As with an interface target, allocates
	// nothing.
	if c, ok := errors.AsType[interface {
		error
		Coded
	}](err); ok {
		switch c.CallguardError() {
		case "loop":
			return Loop
		case "hops":
			return Hops
		}
	}
	return Other
}

// TooLate reports whether err, of class Timeout, is a refusal for want of
// time, which must reach the caller with "do not retry", since a retry
// could only meet it again with less time left: [callguard.ErrTooLate]
// (loadshed.ErrDeadline is the same error), a [*DeadlineError] of the
// adapters' early rejection, or a callee's such refusal that a client
// marked with [MarkTooLate] and the handler passed on. A timeout of any
// other kind is not: it keeps its bare 504.
func TooLate(err error) bool {
	return errors.Is(err, callguard.ErrTooLate)
}

// A DeadlineError is an adapter's refusal, before its policy and handler
// run, of a request with less time left than its minimum service time. It
// matches [callguard.ErrTooLate] (loadshed.ErrDeadline), and so
// [context.DeadlineExceeded].
type DeadlineError struct {
	Pkg       string        // the adapter: "httpx" or "grpcx"
	Left, Min time.Duration // the time left, the minimum service time
}

func (e *DeadlineError) Error() string {
	return fmt.Sprintf("%s: %v left, less than the minimum service time %v", e.Pkg, e.Left.Round(time.Microsecond), e.Min)
}

// Unwrap returns [callguard.ErrTooLate].
func (e *DeadlineError) Unwrap() error { return callguard.ErrTooLate }

// MarkTooLate returns err, a callee's answer that it refused the call for
// want of time (a 504 or DeadlineExceeded with the "do not retry"
// pushback), marked for the client's policies: permanent, since a retry
// would have less time still and the refusal says nothing about the
// callee's health, and matching [callguard.ErrTooLate]
// (loadshed.ErrDeadline), so that a handler that passes it on passes the
// refusal up ([TooLate]).
func MarkTooLate(err error) error { return &tooLate{[2]error{err, callguard.ErrTooLate}} }

// tooLate holds its cause and [callguard.ErrTooLate] in an array, so that
// Unwrap, called on every errors.Is, allocates nothing.
type tooLate struct{ errs [2]error }

func (e *tooLate) Error() string   { return e.errs[0].Error() }
func (e *tooLate) Unwrap() []error { return e.errs[:] }
func (e *tooLate) Permanent() bool { return true }
