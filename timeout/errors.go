package timeout

import (
	"context"
	"time"
)

// ErrTimeout is returned by [Timeout.Do] when the timeout fired. It also
// matches [context.DeadlineExceeded], so code that checks for a deadline
// keeps working, and it reports Timeout() true, as a [net.Error] does:
//
//	errors.Is(err, timeout.ErrTimeout)         // true
//	errors.Is(err, context.DeadlineExceeded)   // true
var ErrTimeout error = timeoutError{}

// timeoutError is the type of ErrTimeout. An unexported type keeps the
// sentinel unique while letting it match context.DeadlineExceeded.
type timeoutError struct{}

func (timeoutError) Error() string { return "timeout: deadline exceeded" }

// Is reports whether target is context.DeadlineExceeded.
func (timeoutError) Is(target error) bool { return target == context.DeadlineExceeded }

// Timeout reports true.
func (timeoutError) Timeout() bool { return true }

// A TimeoutError reports that the timeout fired and the call then failed with
// an error of its own, which it wraps (an *url.Error from an HTTP client, for
// example). It matches [ErrTimeout] and [context.DeadlineExceeded], and Err
// through Unwrap.
type TimeoutError struct {
	// After is the timeout that fired, d of [New].
	After time.Duration
	// Err is the error the call returned.
	Err error
}

func (e *TimeoutError) Error() string {
	return "timeout: deadline exceeded after " + e.After.String() + ": " + e.Err.Error()
}

// Unwrap returns the error the call returned.
func (e *TimeoutError) Unwrap() error { return e.Err }

// Is reports whether target is [ErrTimeout] or [context.DeadlineExceeded].
func (e *TimeoutError) Is(target error) bool {
	return target == ErrTimeout || target == context.DeadlineExceeded
}

// Timeout reports true.
func (e *TimeoutError) Timeout() bool { return true }
