// Package propagation is the propagation core that httpx and grpcx share: the
// values a call carries between services, their names in HTTP headers and
// gRPC metadata, and the rules by which a server reads them. The adapters
// map their headers or metadata to a [Getter] and leave the rest here, so
// that the two cannot drift.
//
// The values, and their names (design.md, "Wire protocol"):
//
//	field      HTTP header         gRPC metadata
//	Hops       Callguard-Hops      callguard-hops
//	Path       Callguard-Path      callguard-path
//	Priority   Callguard-Priority  callguard-priority
//	RequestID  X-Request-Id        x-request-id
//	Timeout    Callguard-Timeout   (grpc-timeout, gRPC's own deadline)
package propagation

import (
	"context"
	"strings"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/loadshed"
	"github.com/callguard/callguard/timeout"
	"github.com/callguard/callguard/ttl"
)

// A Field is one of the values a call carries.
type Field uint8

// The carried values.
const (
	Hops Field = iota
	Path
	Priority
	RequestID
	Timeout
	numFields
)

var names = [numFields]struct{ header, metadata string }{
	Hops:      {ttl.HopsHeader, ttl.HopsMetadata},
	Path:      {ttl.PathHeader, ttl.PathMetadata},
	Priority:  {loadshed.PriorityHeader, loadshed.PriorityMetadata},
	RequestID: {"X-Request-Id", "x-request-id"},
	Timeout:   {timeout.Header, ""},
}

// Header returns f's HTTP header name, in canonical form.
func (f Field) Header() string { return names[f].header }

// Metadata returns f's gRPC metadata key, or "" for Timeout, which gRPC
// carries as its own deadline.
func (f Field) Metadata() string { return names[f].metadata }

// Claims are the fields an Edge server does not take from its clients
// (it ignores them, or caps the deadline). An adapter removes them from
// what the handler sees, so that a handler that copies its inbound headers
// or metadata to an outgoing call passes no client's claim on.
var Claims = [...]Field{Hops, Path, Priority, Timeout}

// A Getter returns the values of a field in an inbound call, in the order
// in which the server should weigh them: the first counts.
type Getter interface {
	Get(Field) []string
}

// Server holds a server's rules for what it takes from its callers.
type Server struct {
	// Edge: the callers are untrusted. Their hops, path and priority are
	// ignored; the request id, which only labels logs, is kept if valid.
	Edge bool
	// RequestIDs: a call without a valid request id gets a new one.
	RequestIDs bool
}

// Inbound returns ctx with what the inbound call read by g carries, as far
// as s trusts it: hop budget and path (for the ttl policy), priority (for
// loadshed) and request id, which it also returns, to be echoed ("" if
// none). Malformed values are ignored. With no hop state to carry (or
// under Edge), ctx keeps none, and the server's TTL gives the call its
// default budget.
func Inbound[G Getter](ctx context.Context, g G, s Server) (context.Context, string) {
	var hops, path string
	if !s.Edge {
		hops, path = first(g.Get(Hops)), joined(g.Get(Path))
	}
	ctx = ttl.Inbound(ctx, hops, path)
	if !s.Edge {
		if p, ok := loadshed.ParsePriority(first(g.Get(Priority))); ok && p != loadshed.Default {
			ctx = loadshed.NewContext(ctx, p)
		}
	}
	id := first(g.Get(RequestID))
	switch {
	case callguard.ValidRequestID(id):
	case s.RequestIDs:
		id = callguard.NewRequestID()
	default:
		return ctx, ""
	}
	return callguard.ContextWithRequestID(ctx, id), id
}

// first returns the first of a field's values, or "".
func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// joined returns a path's values joined by commas, as one list, as a
// proxy may split a list-valued header over several lines.
func joined(v []string) string {
	if len(v) > 1 {
		return strings.Join(v, ",")
	}
	return first(v)
}
