package retry

import (
	"context"
	"strconv"
)

// ErrExhausted is matched, with errors.Is, by every [ExhaustedError]: Do
// gave up on a call whose last error was still retryable. It and every
// ExhaustedError satisfy [callguard.IsExhausted].
var ErrExhausted error = exhausted{}

type exhausted struct{}

func (exhausted) Error() string   { return "retry: attempts exhausted" }
func (exhausted) Exhausted() bool { return true }

// A StopReason says why Do stopped retrying an error that was retryable.
type StopReason uint8

const (
	// StopMaxAttempts: the attempts set by [WithMaxAttempts] were all made.
	StopMaxAttempts StopReason = iota + 1
	// StopMaxElapsed: the next attempt would start after the time set by
	// [WithMaxElapsedTime].
	StopMaxElapsed
	// StopBudget: the [Budget] had no token for a retry.
	StopBudget
	// StopDeadline: the context's deadline would pass before the next
	// attempt could start, so Do did not wait for it.
	StopDeadline
)

// String returns a short description of the reason.
func (r StopReason) String() string {
	switch r {
	case StopMaxAttempts:
		return "max attempts reached"
	case StopMaxElapsed:
		return "max elapsed time reached"
	case StopBudget:
		return "retry budget empty"
	case StopDeadline:
		return "deadline too close"
	}
	return "StopReason(" + strconv.Itoa(int(r)) + ")"
}

// An ExhaustedError is returned by Do when it gave up on a call whose last
// error was retryable. It matches [ErrExhausted] and, through Unwrap, the
// last error: errors.Is(err, retry.ErrExhausted) and errors.Is(err, lastErr)
// both hold.
type ExhaustedError struct {
	// Attempts is the number of attempts made, the first included.
	Attempts int
	// Reason says why no further attempt was made.
	Reason StopReason
	// Err is the error of the last attempt.
	Err error
}

func (e *ExhaustedError) Error() string {
	s := "retry: exhausted after " + attempts(e.Attempts) + " (" + e.Reason.String() + ")"
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the error of the last attempt.
func (e *ExhaustedError) Unwrap() error { return e.Err }

// Is reports whether target is [ErrExhausted].
func (e *ExhaustedError) Is(target error) bool { return target == ErrExhausted }

// Exhausted reports true: see [callguard.IsExhausted].
func (e *ExhaustedError) Exhausted() bool { return true }

// interruptedError is returned when the caller's context ends while Do
// waits to retry. It matches the context's error (and its cause, when
// there is one) and the last attempt's error.
type interruptedError struct {
	errs     []error // ctx.Err(), [context.Cause(ctx)], last attempt's error
	attempts int
}

func interrupted(ctx context.Context, attempts int, last error) error {
	errs := []error{ctx.Err()}
	if cause := context.Cause(ctx); cause != nil && cause != errs[0] {
		errs = append(errs, cause)
	}
	return &interruptedError{errs: append(errs, last), attempts: attempts}
}

func (e *interruptedError) Error() string {
	return "retry: " + e.errs[0].Error() + " while waiting to retry after " +
		attempts(e.attempts) + ": " + e.errs[len(e.errs)-1].Error()
}

func (e *interruptedError) Unwrap() []error { return e.errs }

// attempts returns "1 attempt", "2 attempts", ...
func attempts(n int) string {
	if n == 1 {
		return "1 attempt"
	}
	return strconv.Itoa(n) + " attempts"
}
