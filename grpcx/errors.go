package grpcx

import (
	"context"
	"errors"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/internal/classify"
	"github.com/callguard/callguard/internal/propagation"
	"github.com/callguard/callguard/ttl"
)

// Metadata keys of the wire protocol (docs/design.md, "Wire protocol").
const (
	// pushbackKey carries the pushback of gRFC A6: milliseconds to wait
	// before a retry; negative or not an integer means "do not retry".
	pushbackKey = "grpc-retry-pushback-ms"
	// errorKey says why a server refused a call: "loop" or "hops".
	errorKey = "callguard-error"
)

// An Error is what the client interceptors return when a call fails in a
// way that the bare gRPC error does not tell completely: it wraps the error
// of the policy (an exhausted retry, an open breaker, a full bulkhead, a
// timeout, a marked status error), so that errors.Is and errors.As see the
// callguard errors, and its GRPCStatus method gives the gRPC status the
// caller would expect, so that [status.FromError], [status.Code] and
// [status.Convert] keep working:
//
//   - the status the server answered, when an attempt reached one (the last
//     attempt's, after retries);
//   - Canceled or DeadlineExceeded when the caller's context ended;
//   - Unavailable for a local rejection or an overloaded error
//     (breaker.ErrOpen, bulkhead.ErrFull);
//   - DeadlineExceeded for a timeout of a policy;
//   - FailedPrecondition for a loop or hop refusal;
//   - Unknown for anything else, as gRPC itself does.
//
// The zero value is not useful; Errors are made by the interceptors.
type Error struct {
	err error
	st  *status.Status
}

// Error returns the message of the wrapped error.
func (e *Error) Error() string { return e.err.Error() }

// Unwrap returns the error the policy returned.
func (e *Error) Unwrap() error { return e.err }

// GRPCStatus returns the status that the caller sees.
func (e *Error) GRPCStatus() *status.Status { return e.st }

// callerError turns the error of a client policy into the error the caller
// of the RPC gets. A bare status error from gRPC is returned as it is,
// unless there is a request id to add.
// When ctx carries a request id, the error is an [*Error] whose message
// names it (a [*callguard.RequestIDError] inside); the status is the same.
func callerError(ctx context.Context, err error) error {
	_, bare := err.(interface{ GRPCStatus() *status.Status }) //nolint:errorlint // only an unwrapped status error
	annotated := callguard.ErrorWithRequestID(ctx, err)
	if bare && annotated == err {
		return err
	}
	return &Error{err: annotated, st: statusOf(ctx, err)}
}

// statusOf returns the status for err; see [Error].
func statusOf(ctx context.Context, err error) *status.Status {
	if cerr := ctx.Err(); cerr != nil && errors.Is(err, cerr) {
		return status.New(status.FromContextError(cerr).Code(), err.Error())
	}
	if st := ownStatus(err); st != nil {
		return st
	}
	code := codes.Unknown
	switch k, _ := classify.Error(err); k {
	case classify.Overloaded:
		code = codes.Unavailable
	case classify.Timeout:
		code = codes.DeadlineExceeded
	case classify.Canceled:
		code = codes.Canceled
	case classify.Loop, classify.Hops:
		code = codes.FailedPrecondition
	}
	return status.New(code, err.Error())
}

// serverError maps the error of a handler run under a server policy to the
// trailer to send and the error the server interceptor returns with it,
// following the status mapping of docs/design.md. md is nil when there is no trailer
// to send; an error it does not map is returned unchanged, for gRPC to turn
// into a status as it always does. With internal false, for an [Edge]
// server, a loop is answered without the names of internal services: no
// callguard-path trailer, and the message of [ttl.ErrLoop].
func serverError(err error, internal bool) (md metadata.MD, _ error) {
	if m, ok := err.(*handlerMark); ok && m.own { //nolint:errorlint // only the handler's error as the policy passed it
		return nil, m.err // the handler's own status, sent as it is
	}
	var code codes.Code
	switch k, d := classify.Error(err); k {
	case classify.Overloaded:
		code = codes.Unavailable
		md = metadata.MD{pushbackKey: {callguard.FormatPushback(d)}}
		if internal {
			setUnavailable(md, err) // route.go; never at an Edge server
			if m, ok := errors.AsType[*handlerMark](err); ok && !m.own {
				md[errorKey] = []string{propagation.DownstreamReason} // passed on: not this server's load
			}
		}
	case classify.Timeout:
		code = codes.DeadlineExceeded
		if m, ok := errors.AsType[*handlerMark](err); ok && !m.own && internal {
			md = metadata.MD{errorKey: {propagation.DownstreamReason}} // passed on: not this server's fault
		}
		if classify.TooLate(err) {
			if md == nil {
				md = metadata.MD{}
			}
			md[pushbackKey] = []string{callguard.FormatPushback(0)}
			if st := ownStatus(err); st != nil && st.Code() == code {
				return md, st.Err() // a refusal from further down, passed on unchanged
			}
		}
	case classify.Canceled:
		code = codes.Canceled
	case classify.Loop:
		md = metadata.MD{errorKey: {"loop"}}
		if !internal {
			return md, status.Error(codes.FailedPrecondition, ttl.ErrLoop.Error())
		}
		var le *ttl.LoopError
		if errors.As(err, &le) && len(le.Path) > 0 {
			md[ttl.PathMetadata] = []string{ttl.FormatPath(le.Path)}
		}
		return md, refusal(err)
	case classify.Hops:
		return metadata.MD{errorKey: {"hops"}}, refusal(err)
	default:
		return nil, err
	}
	return md, status.Error(code, err.Error())
}

// ownStatus returns the gRPC status that err or an error it wraps carries,
// or nil.
func ownStatus(err error) *status.Status {
	var gs interface{ GRPCStatus() *status.Status }
	if errors.As(err, &gs) {
		return gs.GRPCStatus()
	}
	return nil
}

// refusal returns the FailedPrecondition status error for a loop or hop
// refusal. A refusal from further down keeps its message, so that it is
// passed up unchanged rather than quoted once per tier.
func refusal(err error) error {
	if st := ownStatus(err); st != nil && st.Code() == codes.FailedPrecondition {
		return status.Error(codes.FailedPrecondition, st.Message())
	}
	return status.Error(codes.FailedPrecondition, err.Error())
}

// A refusedError is a downstream server's refusal of a call for a loop in
// the call path or an exhausted hop budget (FailedPrecondition with the
// callguard-error trailer). It is permanent, and it names its cause, so
// that a server whose handler returns it passes the refusal on unchanged.
// It wraps both the status error and the ttl error it stands for (a
// [*ttl.LoopError] with the path of the callguard-path trailer, or
// [ttl.ErrExhausted]), so that errors.As and errors.Is see either.
type refusedError struct {
	err   error
	code  string // "loop" or "hops"
	cause error  // *ttl.LoopError or ttl.ErrExhausted
}

func (e *refusedError) Error() string          { return e.err.Error() }
func (e *refusedError) Unwrap() []error        { return []error{e.err, e.cause} }
func (e *refusedError) Permanent() bool        { return true }
func (e *refusedError) CallguardError() string { return e.code }

// marked returns err, the error of a handler run under a server policy,
// marked as the class its answer stands for, so that the policy counts it
// as it counts the error that the answer means (loadshed.OutcomeOf: the
// limit backs off), as httpx does for a 503 that a handler writes:
//
//   - an overloaded error from the handler's own calls, or retries that ran
//     out (retry.ErrExhausted): overloaded without a delay, answered
//     Unavailable with grpc-retry-pushback-ms -1, since the handler's client
//     has retried already and no tier above may;
//   - the handler's own status Unavailable or ResourceExhausted:
//     overloaded, and DeadlineExceeded: a deadline; the status is sent as
//     the handler returned it, with no trailer added.
//
// Permanent errors and errors of other classes are returned as they are.
func marked(err error) error {
	if err == nil || callguard.IsPermanent(err) {
		return err
	}
	switch k, _ := classify.Error(err); k {
	case classify.Overloaded:
		return &handlerMark{err: err}
	case classify.Timeout:
		return &handlerMark{err: err, timeout: true} // its own calls' timeout, passed on
	case classify.Other:
		switch status.Code(err) {
		case codes.Unavailable, codes.ResourceExhausted:
			return &handlerMark{err: err, own: true}
		case codes.DeadlineExceeded:
			return &handlerMark{err: err, own: true, timeout: true}
		}
	}
	return err
}

// A handlerMark is a handler's error marked by [marked]: it matches
// [callguard.ErrOverloaded] with no pushback delay, or, with timeout,
// [context.DeadlineExceeded].
type handlerMark struct {
	err     error
	own     bool // err is the handler's own status: sent unchanged
	timeout bool
}

func (e *handlerMark) Error() string { return e.err.Error() }
func (e *handlerMark) Unwrap() error { return e.err }

func (e *handlerMark) Is(target error) bool {
	if e.timeout {
		return target == context.DeadlineExceeded
	}
	return target == callguard.ErrOverloaded
}

// Pushback returns 0, "do not retry", for an overloaded mark: it hides a
// delay that a dependency asked of the handler's client.
func (e *handlerMark) Pushback() time.Duration { return 0 }
