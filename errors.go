package callguard

import (
	"context"
	"errors"
	"time"
)

// ErrOverloaded is matched, with errors.Is, by every error that means "the
// callee, or a policy on the way to it, is overloaded": an [OverloadedError],
// and the local rejections of policies (breaker.ErrOpen, bulkhead.ErrFull,
// loadshed.ErrShed).
//
// An overloaded error is not retried unless it carries a pushback delay
// (see [Pushback]), and a server that returns it tells its own caller
// "overloaded: don't retry", so that only the tier next to the fault retries.
var ErrOverloaded = errors.New("callguard: overloaded")

// ErrRejected is matched by errors from a policy that refused a call before
// it ran (an open breaker, a full bulkhead, a shed request). A rejected call
// never reached the callee, so it is not a failure of the callee: a breaker
// does not count it. Every rejection also matches [ErrOverloaded].
var ErrRejected = errors.New("callguard: rejected")

// ErrDownstream is matched by an error that says the callee refused the
// call for a failure of its own calls, which it passed on: a dependency
// of the callee that is down (package route's UnavailableError, from a
// Callguard-Unavailable answer) or that refused it (the callee's answer
// says "downstream": Callguard-Error or the callguard-error trailer). It
// is not the callee's load: a loadshed.Throttle does not count it, as a
// breaker counts no overloaded error, so that a middle tier that refuses
// fast while its dependency is down is not throttled after the dependency
// is back; the throttle next to the dependency acts on it.
var ErrDownstream = errors.New("callguard: refused downstream of the callee")

// An OverloadedError reports that the callee shed the call. It matches
// [ErrOverloaded]. Adapters return it for an HTTP 503 or a gRPC status that
// carries a pushback (Retry-After, Callguard-Pushback,
// grpc-retry-pushback-ms), and for a 429 or a ResourceExhausted with or
// without one (without, the delay is zero: do not retry).
type OverloadedError struct {
	// Delay is how long the callee asked the caller to wait before trying
	// again. Zero or negative means: do not retry at all.
	Delay time.Duration
	// Err is the underlying error, if any.
	Err error
}

// Overloaded returns an [OverloadedError] with the given pushback delay and
// cause. A delay ≤ 0 means "do not retry".
func Overloaded(delay time.Duration, err error) error {
	return &OverloadedError{Delay: delay, Err: err}
}

func (e *OverloadedError) Error() string {
	s := "callguard: overloaded"
	if e.Delay > 0 {
		s += ", retry after " + e.Delay.String()
	} else {
		s += ", do not retry"
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying error.
func (e *OverloadedError) Unwrap() error { return e.Err }

// Is reports whether target is [ErrOverloaded].
func (e *OverloadedError) Is(target error) bool { return target == ErrOverloaded }

// Pushback returns the delay the callee asked for.
func (e *OverloadedError) Pushback() time.Duration { return e.Delay }

// Pushback reports whether err is an overloaded error (it matches
// [ErrOverloaded]) and, if so, the delay after which a retry is welcome.
// A zero delay with ok true means "overloaded: do not retry". The delay
// comes from the first error in err's chain with a method
// Pushback() time.Duration.
func Pushback(err error) (delay time.Duration, ok bool) {
	if err == nil || !errors.Is(err, ErrOverloaded) {
		return 0, false
	}
	walk(err, func(e error) bool {
		p, ok := e.(interface{ Pushback() time.Duration })
		if ok {
			delay = max(p.Pushback(), 0)
		}
		return ok
	})
	return delay, true
}

// walk calls f on err and on every error it wraps, depth first, as errors.Is
// does, until f returns true. Unlike errors.As with an interface target, it
// allocates nothing.
func walk(err error, f func(error) bool) bool {
	for err != nil {
		if f(err) {
			return true
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if walk(e, f) {
					return true
				}
			}
			return false
		default:
			return false
		}
	}
	return false
}

// NewRejection returns an error for a policy to return when it refuses a
// call before running it. The error matches [ErrRejected] and
// [ErrOverloaded]. Policies create their rejection once, as a sentinel:
//
//	var ErrFull = callguard.NewRejection("bulkhead: full")
func NewRejection(msg string) error { return &rejection{msg: msg} }

type rejection struct{ msg string }

func (r *rejection) Error() string { return r.msg }

func (r *rejection) Is(target error) bool {
	return target == ErrRejected || target == ErrOverloaded
}

// A PermanentError marks an error that retrying cannot fix (a bad request,
// a 4xx response, a loop detected downstream). Retry never retries it and a
// breaker does not count it as a failure of the callee.
type PermanentError struct {
	Err error
}

// Permanent wraps err in a [PermanentError]. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &PermanentError{Err: err}
}

func (e *PermanentError) Error() string { return e.Err.Error() }

// Unwrap returns the wrapped error.
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent reports true.
func (e *PermanentError) Permanent() bool { return true }

// IsPermanent reports whether err is permanent: whether any error in its
// chain has a method Permanent() bool that returns true. [PermanentError]
// has one; other packages' error types (ttl.LoopError) declare themselves
// permanent the same way.
func IsPermanent(err error) bool {
	if err == nil {
		return false
	}
	return walk(err, func(e error) bool {
		p, ok := e.(interface{ Permanent() bool })
		return ok && p.Permanent()
	})
}

// IsExhausted reports whether err says that a retry policy gave up: that
// it made every attempt it was allowed and the last one still failed
// (retry.ErrExhausted). It is true when any error in err's chain has a
// method Exhausted() bool that returns true; retry's errors have one.
//
// A server answers such an error "overloaded: do not retry", so that
// retries do not multiply tier by tier (docs/design.md, "Errors are the
// protocol").
func IsExhausted(err error) bool {
	if err == nil {
		return false
	}
	return walk(err, func(e error) bool {
		x, ok := e.(interface{ Exhausted() bool })
		return ok && x.Exhausted()
	})
}

// ErrTooLate is matched, with errors.Is, by every refusal of a call for want
// of time: the caller's deadline left less time than the call needs, so it
// was refused before it ran (loadshed.ErrDeadline is ErrTooLate; the
// adapters' minimum service time refuses with it too). A retry could only
// meet it again with less time left, so servers answer it with a timeout
// status and "do not retry".
//
// ErrTooLate matches [context.DeadlineExceeded] and reports Timeout() true.
// It does not match [ErrOverloaded]: the callee is not overloaded, the
// caller's budget is too short.
var ErrTooLate error = tooLate{}

type tooLate struct{}

func (tooLate) Error() string { return "callguard: deadline too short for the expected service time" }

// Is reports whether target is [context.DeadlineExceeded].
func (tooLate) Is(target error) bool { return target == context.DeadlineExceeded }

// Timeout reports true.
func (tooLate) Timeout() bool { return true }

// A NoRetryError marks an error that retrying must not repeat but that is
// still a failure of the callee, unlike a [PermanentError]: a 500 answer or
// a broken connection to a non-idempotent request, which may have taken
// effect on the server. A breaker counts it; retry returns it at once.
type NoRetryError struct {
	Err error
}

// NoRetry wraps err in a [NoRetryError]. NoRetry(nil) is nil.
func NoRetry(err error) error {
	if err == nil {
		return nil
	}
	return &NoRetryError{Err: err}
}

func (e *NoRetryError) Error() string { return e.Err.Error() }

// Unwrap returns the wrapped error.
func (e *NoRetryError) Unwrap() error { return e.Err }

// Retryable reports whether a retry policy may try a call again after err.
// It is false for nil, for permanent errors ([IsPermanent]), for a
// [NoRetryError], and for an overloaded error that carries no pushback
// delay (see [Pushback]); true for any other error. Policies apply their own
// classifier on top of this, and never retry once the caller's context is
// done.
func Retryable(err error) bool {
	if err == nil || IsPermanent(err) {
		return false
	}
	if walk(err, func(e error) bool { _, ok := e.(*NoRetryError); return ok }) {
		return false
	}
	if d, ok := Pushback(err); ok && d <= 0 {
		return false
	}
	return true
}
