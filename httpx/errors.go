package httpx

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/callguard/callguard/internal/propagation"
	"github.com/callguard/callguard/ttl"
)

// ErrBodyNotReplayable is matched, with errors.Is, by the error of a failed
// attempt of a request that has a body but no GetBody to send it again: a
// request with a body is sent at most once unless it can be replayed. That
// error is [callguard.NoRetry], so that a retry policy returns at once (the
// caller gets the attempt's response, or its error) instead of waiting for
// an attempt that cannot be made; an attempt that a policy makes anyway
// fails with an error that matches it too and is [callguard.Permanent].
// Requests made by [http.NewRequest] with a *bytes.Buffer, *bytes.Reader
// or *strings.Reader body have a GetBody.
var ErrBodyNotReplayable = errors.New("httpx: request body cannot be replayed (no GetBody); not retried")

// ErrNoTimeLeft is the error of an attempt that the transport did not send
// because its context's deadline had passed (it ended as the attempt
// began): the server could not have answered in time. It
// matches [context.DeadlineExceeded], reports Timeout() true, and is
// [callguard.Permanent]: a later attempt would have even less time, and the
// server never saw the request, so a breaker does not count it. A handler
// that passes it on with [Error] answers 504.
var ErrNoTimeLeft error = noTimeError{}

type noTimeError struct{}

func (noTimeError) Error() string { return "httpx: no time left to send the request" }

// Is reports whether target is context.DeadlineExceeded.
func (noTimeError) Is(target error) bool { return target == context.DeadlineExceeded }

func (noTimeError) Timeout() bool   { return true }
func (noTimeError) Permanent() bool { return true }

// lastError is the error of a failed attempt after which no other can be
// made: the request's body cannot be replayed.
type lastError struct{ err error }

func (e *lastError) Error() string   { return e.err.Error() + "; " + ErrBodyNotReplayable.Error() }
func (e *lastError) Unwrap() []error { return []error{e.err, ErrBodyNotReplayable} }

// replayError is the error of an attempt that could not get a fresh body.
// It wraps ErrBodyNotReplayable (or GetBody's error) and the error of the
// attempt before it, so that the caller sees both.
type replayError struct {
	err  error // ErrBodyNotReplayable, or GetBody's error
	prev error // the previous attempt's error; may be nil
}

func (e *replayError) Error() string {
	s := e.err.Error()
	if e.prev != nil {
		s += "; previous attempt: " + e.prev.Error()
	}
	return s
}

func (e *replayError) Unwrap() []error {
	if e.prev == nil {
		return []error{e.err}
	}
	return []error{e.err, e.prev}
}

// A StatusError is the error that the default classification ([Classify])
// reports to the policy for a response that failed: a 5xx, a 429 or another
// 4xx. It is wrapped in [callguard.Permanent], [callguard.NoRetry] or
// [callguard.Overloaded] as the status requires; errors.As finds it in any
// case. The caller of the transport gets the response itself, not this
// error, unless the policy gave up for a reason of its own.
type StatusError struct {
	// StatusCode is the response's status code, e.g. 503.
	StatusCode int
	// Status is the response's status line, e.g. "503 Service Unavailable".
	Status string
	// Reason is the response's Callguard-Error header when it names a
	// refusal of the callguard wire protocol ("loop" or "hops" on a 508,
	// "downstream" on a 503, 429 or 504 that the server passed on from its
	// own calls), else "".
	Reason string
	// Err is the refusal of a 508 Loop Detected answer with a Reason: a
	// [*ttl.LoopError] with the path of the response's Callguard-Path for
	// "loop", [ttl.ErrExhausted] for "hops"; nil otherwise. Unwrap returns
	// it, so that errors.As(err, &loopErr) and errors.Is(err,
	// ttl.ErrExhausted) work on the error, and [Error] passes the path on.
	Err error
}

func newStatusError(resp *http.Response) *StatusError {
	e := &StatusError{StatusCode: resp.StatusCode, Status: resp.Status}
	if e.Status == "" {
		e.Status = strconv.Itoa(resp.StatusCode) + " " + http.StatusText(resp.StatusCode)
	}
	switch v := resp.Header.Get(headerError); v {
	case "loop", "hops":
		e.Reason = v
	case propagation.DownstreamReason:
		switch resp.StatusCode {
		case http.StatusServiceUnavailable, http.StatusTooManyRequests, http.StatusGatewayTimeout:
			e.Reason = v
		}
	}
	if resp.StatusCode == http.StatusLoopDetected {
		switch e.Reason {
		case "loop":
			path, _ := ttl.ParsePath(resp.Header.Get(ttl.PathHeader)) // invalid: no path
			e.Err = &ttl.LoopError{Path: path}
		case "hops":
			e.Err = ttl.ErrExhausted
		}
	}
	return e
}

func (e *StatusError) Error() string {
	s := "httpx: response status " + e.Status
	if e.Reason != "" {
		s += " (" + e.Reason + ")"
	}
	if le, ok := e.Err.(*ttl.LoopError); ok && len(le.Path) > 0 { //nolint:errorlint // set by newStatusError, never wrapped
		s += ": " + strings.Join(le.Path, " → ")
	}
	return s
}

// Unwrap returns Err.
func (e *StatusError) Unwrap() error { return e.Err }

// CallguardError returns Reason. A server that passes the error on, with
// [Error], answers with the same Callguard-Error, so that a loop or an
// exhausted hop budget deep in a call graph reaches the first caller.
func (e *StatusError) CallguardError() string { return e.Reason }
