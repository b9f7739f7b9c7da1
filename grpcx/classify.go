package grpcx

import (
	"context"
	"errors"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/internal/classify"
	"github.com/callguard/callguard/internal/propagation"
	"github.com/callguard/callguard/ttl"
)

// Classify is the default classifier of the client interceptors (see
// [WithClassifier]). It marks the error of a failed attempt, by its status
// code, for the policies:
//
//   - ResourceExhausted from a server is its refusal for load:
//     [callguard.Overloaded], which a breaker does not count and a throttle
//     does; retried only after the positive delay of a
//     grpc-retry-pushback-ms trailer, not at all without one (a pushback
//     of 0 is no delay) (gRPC's own retry policy does not
//     retry it either unless configured to).
//   - Unavailable, Aborted and DeadlineExceeded from a server: failures,
//     retried. Retry never retries once the caller's
//     context is done, so a DeadlineExceeded is retried only when it was one
//     attempt's deadline (a per-attempt timeout) or the server's own.
//   - Internal, Unknown, DataLoss, and codes gRPC does not define: failures
//     that are not retried ([callguard.NoRetry]): the call may have taken
//     effect on the server.
//   - InvalidArgument, NotFound, AlreadyExists, PermissionDenied,
//     Unauthenticated, FailedPrecondition, Unimplemented, OutOfRange,
//     Canceled: [callguard.Permanent], neither retried nor counted against
//     the server by a breaker. A FailedPrecondition whose trailer says
//     callguard-error: loop or hops is a downstream refusal for a loop or an
//     exhausted hop budget; it stays permanent for every caller up the chain.
//     It matches, with errors.As and errors.Is, a [*ttl.LoopError] whose
//     path is the callguard-path trailer's, or [ttl.ErrExhausted].
//   - Unavailable because the client refused the server's certificate
//     ("authentication handshake failed" with an x509 error; gRPC gives no
//     error type for it, so the text is matched): permanent.
//   - ResourceExhausted for a message larger than the limit ("grpc: received
//     message larger than max", "trying to send message larger than max"),
//     which gRPC produces itself, on either side: permanent, since the same
//     message will not shrink.
//
// A retried failure whose trailer carries grpc-retry-pushback-ms becomes a
// [callguard.OverloadedError]: a delay of that many milliseconds before the
// next attempt, or, for a negative value, a value that is not an integer or
// more than one value (gRFC A6), "overloaded: do not retry". A pushback of 0
// leaves the error as it is: it is retried after the ordinary backoff. A
// DeadlineExceeded with "do not retry" is a server's refusal for want of
// time ([WithMinServiceTime], [github.com/callguard/callguard/loadshed.ErrDeadline]), not an overload: it
// becomes permanent ([callguard.IsPermanent]: not retried, since a retry
// would have less time still, and not counted by a breaker, since the
// server is healthy) and matches [github.com/callguard/callguard/loadshed.ErrDeadline].
//
// Any other DeadlineExceeded matches [context.DeadlineExceeded], keeping its
// status: it is a timeout for the policies, and a handler that returns it
// passes a timeout of its own calls on (answered with callguard-error
// "downstream"). A status that says "downstream" makes the error match
// [callguard.ErrDownstream], as an Unavailable one does.
//
// An error without a gRPC status is classified by
// [status.FromContextError]: context.Canceled as Canceled, and so on.
func Classify(err error, trailer metadata.MD) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		st = status.FromContextError(err)
	}
	switch st.Code() {
	case codes.Unavailable:
		if untrustedCert(st, trailer) {
			return callguard.Permanent(err)
		}
		if v := trailer[errorKey]; len(v) == 1 && v[0] == propagation.DownstreamReason {
			return propagation.Downstream(pushback(err, st.Code(), trailer))
		}
		return pushback(err, st.Code(), trailer)
	case codes.DeadlineExceeded:
		err := pushback(err, st.Code(), trailer)
		if !errors.Is(err, context.DeadlineExceeded) {
			err = &deadlineError{err} // a timeout, for the policies and for a handler that passes it on
		}
		if v := trailer[errorKey]; len(v) == 1 && v[0] == propagation.DownstreamReason {
			return propagation.Downstream(err)
		}
		return err
	case codes.Aborted:
		return pushback(err, st.Code(), trailer)
	case codes.ResourceExhausted:
		if strings.Contains(st.Message(), "larger than max") {
			return callguard.Permanent(err)
		}
		if err := pushback(err, st.Code(), trailer); errors.Is(err, callguard.ErrOverloaded) {
			return err
		}
		return callguard.Overloaded(0, err) // load without a delay: not retried
	case codes.FailedPrecondition:
		if v := trailer[errorKey]; len(v) == 1 {
			switch v[0] {
			case "loop":
				return &refusedError{err: err, code: "loop", cause: &ttl.LoopError{Path: trailerPath(trailer)}}
			case "hops":
				return &refusedError{err: err, code: "hops", cause: ttl.ErrExhausted}
			}
		}
		return callguard.Permanent(err)
	case codes.InvalidArgument, codes.NotFound, codes.AlreadyExists,
		codes.PermissionDenied, codes.Unauthenticated, codes.Unimplemented,
		codes.OutOfRange, codes.Canceled:
		return callguard.Permanent(err)
	}
	return callguard.NoRetry(err) // Internal, Unknown, DataLoss, undefined codes
}

// pushback returns err, of status code, as an overloaded error when the
// trailer carries a pushback (for DeadlineExceeded and "do not retry", a
// refusal for want of time), and unchanged otherwise.
func pushback(err error, code codes.Code, trailer metadata.MD) error {
	v := trailer[pushbackKey]
	if len(v) == 0 {
		return err
	}
	d, retry := callguard.ParsePushback(v[0])
	switch {
	case (!retry || len(v) > 1) && code == codes.DeadlineExceeded:
		return classify.MarkTooLate(err) // refused for want of time: not an overload
	case !retry || len(v) > 1:
		return callguard.Overloaded(0, err)
	case d == 0:
		return err // "retry now": the ordinary backoff applies
	}
	return callguard.Overloaded(d, err)
}

// trailerPath returns the loop a server reported in the callguard-path
// trailer, or nil when there is none or it is malformed.
func trailerPath(trailer metadata.MD) []string {
	v := trailer[ttl.PathMetadata]
	if len(v) != 1 {
		return nil
	}
	path, _ := ttl.ParsePath(v[0])
	return path
}

// untrustedCert reports whether st is the client's own refusal of the server's
// certificate (unknown authority, wrong name, expired): no retry can fix
// it, and a breaker must not count it as the server failing calls. gRPC reports it as Unavailable with no trailer and only the
// handshake's text ("transport: authentication handshake failed: tls:
// failed to verify certificate: x509: …"): no error type or status detail
// carries it, so the text is matched, narrowly.
func untrustedCert(st *status.Status, trailer metadata.MD) bool {
	msg := st.Message()
	return len(trailer) == 0 && strings.Contains(msg, "authentication handshake failed") && strings.Contains(msg, "x509: ")
}

// A deadlineError is a call's DeadlineExceeded status, which matches
// [context.DeadlineExceeded] so that the policies and the server
// interceptors read it as a timeout, as a per-attempt timeout's error is:
// a handler that returns it passes a timeout of its own calls on
// ("downstream"), not a status of its own. It keeps the status.
type deadlineError struct{ err error }

func (e *deadlineError) Error() string        { return e.err.Error() }
func (e *deadlineError) Unwrap() error        { return e.err }
func (e *deadlineError) Is(target error) bool { return target == context.DeadlineExceeded }
