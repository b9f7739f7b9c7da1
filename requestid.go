package callguard

import "context"

type requestIDKey struct{}

// ContextWithRequestID returns a copy of ctx that carries a correlation id
// for the request it serves. The adapters read it from an inbound
// X-Request-Id header (gRPC metadata x-request-id), create one at the first
// hop when asked to, and send it on every outgoing call made with the
// context, so that the logs of every service a request touched can be
// joined. Trace context is OpenTelemetry's job; this id is for the logs.
func ContextWithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestIDFromContext returns the correlation id carried by ctx, or "".
func RequestIDFromContext(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}
