package httpx

import (
	"errors"
	"net/http"
	"strconv"
)

// ErrBodyNotReplayable is matched, with errors.Is, by the error of an
// attempt that the transport refused to send because the request has a
// body but no GetBody to send it again: a request with a body is sent at
// most once unless it can be replayed. The error is [callguard.Permanent],
// so the policy stops there and the caller gets the previous attempt's
// response, or an error that wraps both this and the previous attempt's
// error. Requests made by [http.NewRequest] with a *bytes.Buffer,
// *bytes.Reader or *strings.Reader body have a GetBody.
var ErrBodyNotReplayable = errors.New("httpx: request body cannot be replayed (no GetBody); not retried")

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
	// refusal of the callguard wire protocol ("loop" or "hops"), else "".
	Reason string
}

func newStatusError(resp *http.Response) *StatusError {
	e := &StatusError{StatusCode: resp.StatusCode, Status: resp.Status}
	if e.Status == "" {
		e.Status = strconv.Itoa(resp.StatusCode) + " " + http.StatusText(resp.StatusCode)
	}
	switch v := resp.Header.Get(headerError); v {
	case "loop", "hops":
		e.Reason = v
	}
	return e
}

func (e *StatusError) Error() string {
	s := "httpx: response status " + e.Status
	if e.Reason != "" {
		s += " (" + e.Reason + ")"
	}
	return s
}

// CallguardError returns Reason. A server that passes the error on, with
// [Error], answers with the same Callguard-Error, so that a loop or an
// exhausted hop budget deep in a call graph reaches the first caller.
func (e *StatusError) CallguardError() string { return e.Reason }
