package callguard

import (
	"context"
	"math/rand/v2"
	"strconv"
)

type requestIDKey struct{}

// ContextWithRequestID returns a copy of ctx that carries a correlation id
// for the request it serves. The adapters read it from an inbound
// X-Request-Id header (gRPC metadata x-request-id), create one at the first
// hop when asked to, and send it on every outgoing call made with the
// context, so that the logs of every service a request touched can be
// joined. Trace context is OpenTelemetry's job; this id is for the logs.
//
// An id that is not valid ([ValidRequestID]) is ignored: ctx is returned
// as it is, with the id it already carried, if any, so that no header or
// error string ever holds an id that could break it; a server that makes
// ids (httpx and grpcx WithRequestIDs) makes a fresh one.
func ContextWithRequestID(ctx context.Context, id string) context.Context {
	if !ValidRequestID(id) {
		return ctx
	}
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestIDFromContext returns the correlation id carried by ctx, or "".
func RequestIDFromContext(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// MaxRequestIDLen is the longest correlation id the adapters accept.
const MaxRequestIDLen = 128

// ValidRequestID reports whether id may be kept as a correlation id: 1 to
// [MaxRequestIDLen] visible ASCII characters, nothing that could break a
// log line or a header. The adapters ignore inbound ids that are not.
func ValidRequestID(id string) bool {
	if id == "" || len(id) > MaxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] > '~' {
			return false
		}
	}
	return true
}

// NewRequestID returns a new correlation id: 16 random hex digits. The
// generator of math/rand/v2 is seeded from the OS, so ids do not repeat
// across restarts, and 64 bits make a collision in a day's logs unlikely.
func NewRequestID() string {
	const digits = "0123456789abcdef"
	var b [16]byte
	v := rand.Uint64()
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = digits[v&0xf]
		v >>= 4
	}
	return string(b[:])
}

// A RequestIDError adds a request's correlation id to an error, so that a
// log line of the error can be joined with the lines of every other service
// the request touched. errors.Is and errors.As see through it.
type RequestIDError struct {
	ID  string
	Err error
}

// Error returns the error's message followed by " [request ID]". An ID that
// is not valid ([ValidRequestID]) is quoted, so that it cannot break a log
// line.
func (e *RequestIDError) Error() string {
	id := e.ID
	if !ValidRequestID(id) {
		id = strconv.QuoteToASCII(id)
	}
	return e.Err.Error() + " [request " + id + "]"
}

// Unwrap returns the annotated error.
func (e *RequestIDError) Unwrap() error { return e.Err }

// ErrorWithRequestID returns err annotated with the correlation id that ctx
// carries, as a [*RequestIDError]; err itself when it is nil, ctx carries
// no id, or err already names it. The adapters annotate the errors they
// return to callers.
func ErrorWithRequestID(ctx context.Context, err error) error {
	id := RequestIDFromContext(ctx)
	if err == nil || id == "" {
		return err
	}
	if walk(err, func(e error) bool { r, ok := e.(*RequestIDError); return ok && r.ID == id }) {
		return err
	}
	return &RequestIDError{ID: id, Err: err}
}
