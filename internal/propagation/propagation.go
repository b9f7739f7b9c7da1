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
//	Attempt    Callguard-Attempt   callguard-attempt
//	Synthetic  Callguard-Synthetic callguard-synthetic
package propagation

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/internal/classify"
	"github.com/callguard/callguard/internal/priority"
	"github.com/callguard/callguard/internal/wire"
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
	Synthetic // "1" marks a synthetic request (callguard.IsSynthetic)
	Attempt   // a retry's or hedge's number, above 1 (callguard.Attempt)
	numFields
)

var names = [numFields]struct{ header, metadata string }{
	Hops:      {wire.HopsHeader, wire.HopsMetadata},
	Path:      {wire.PathHeader, wire.PathMetadata},
	Priority:  {wire.PriorityHeader, wire.PriorityMetadata},
	RequestID: {"X-Request-Id", "x-request-id"},
	Timeout:   {wire.TimeoutHeader, ""},
	Attempt:   {wire.AttemptHeader, wire.AttemptMetadata},
	Synthetic: {wire.SyntheticHeader, wire.SyntheticMetadata},
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
var Claims = [...]Field{Hops, Path, Priority, Timeout, Synthetic, Attempt}

// A Getter returns the values of a field in an inbound call, in the order
// in which the server should weigh them: the first counts.
type Getter interface {
	Get(Field) []string
}

// Server holds a server's rules for what it takes from its callers.
type Server struct {
	// Edge: the callers are untrusted. Their hops, path, priority and
	// synthetic mark are ignored; the request id, which only labels logs,
	// is kept if valid.
	Edge bool
	// RequestIDs: a call without a valid request id gets a new one.
	RequestIDs bool
	// Margin is taken off the caller's deadline, for the answer's way back.
	Margin time.Duration
	// MaxDeadline caps the time a call gets; 0 means no cap.
	MaxDeadline time.Duration
	// MinServiceTime: a call with less time left is refused; 0 means none.
	MinServiceTime time.Duration
	// Pkg names the adapter in errors: "httpx" or "grpcx".
	Pkg string
}

// A Setting sets one field of a [Server]: the adapters' server options
// (httpx.WithMaxDeadline, grpcx.WithMaxDeadline, …) are these, under each
// adapter's own option type, so that one name has one meaning in both.
type Setting func(*Server)

// Settings of a [Server], one per adapter option.
func MaxDeadline(d time.Duration) Setting    { return func(s *Server) { s.MaxDeadline = d } }
func Margin(d time.Duration) Setting         { return func(s *Server) { s.Margin = d } }
func MinServiceTime(d time.Duration) Setting { return func(s *Server) { s.MinServiceTime = d } }
func EdgeOn() Setting                        { return func(s *Server) { s.Edge = true } }
func RequestIDsOn() Setting                  { return func(s *Server) { s.RequestIDs = true } }

// Check panics, with a message that starts with s.Pkg and names the
// option, if a duration of s is negative: the adapters' server options
// are checked here, once, for both.
func (s *Server) Check() {
	for _, d := range [...]struct {
		name string
		d    time.Duration
	}{{"deadline margin", s.Margin}, {"max deadline", s.MaxDeadline}, {"min service time", s.MinServiceTime}} {
		if d.d < 0 {
			panic(s.Pkg + ": " + d.name + " must be >= 0, got " + d.d.String())
		}
	}
}

// Inbound returns ctx with what the inbound call read by g carries, as far
// as s trusts it: hop budget and path (for the ttl policy), priority (for
// loadshed), the synthetic mark (Synthetic "1", for callguard.IsSynthetic)
// and request id, which it also returns, to be echoed ("" if
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
		if p, ok := priority.Parse(first(g.Get(Priority))); ok && p != priority.Default {
			ctx = priority.NewContext(ctx, p)
		}
		if first(g.Get(Synthetic)) == "1" {
			ctx = callguard.ContextWithSynthetic(ctx)
		}
	}
	if n := parseAttempt(first(g.Get(Attempt))); n > 1 && !s.Edge {
		ctx = callguard.ContextWithInboundAttempt(ctx, n) // callguard.InboundAttempt
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

// ErrNoTimeLeft is returned by [Outbound.Read] when the attempt's deadline
// has passed: nothing is to be sent. The adapters return their own error.
var ErrNoTimeLeft = errors.New("propagation: no time left to send the call")

// An Outbound holds the values that an attempt sends of its context, one
// per field, "" for a field it does not send. The zero Outbound sends
// nothing, as does one that read a context with nothing to carry (a call
// that no inbound request started, with no deadline, request id or
// priority): such a call goes out as its caller made it. Once read, an
// Outbound is not changed: the slices that [Outbound.Write] hands out
// share its memory.
type Outbound struct{ v [numFields]string }

// Read fills o from ctx, the context of an attempt: hops and path from
// [ttl.Outbound], the priority when it is not the default, the request id,
// Synthetic "1" when ctx is synthetic, and, with timeout, the time left as
// a Timeout value (HTTP; gRPC sends its deadline itself). It returns
// [ttl.ErrExhausted] when the request has no hops left, and
// [ErrNoTimeLeft] when, with timeout, ctx's deadline has passed.
func (o *Outbound) Read(ctx context.Context, timeout bool) error {
	hops, path, err := ttl.Outbound(ctx)
	if err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok && timeout {
		left := time.Until(dl)
		if left <= 0 {
			return ErrNoTimeLeft
		}
		o.v[Timeout] = formatTimeout(left)
	}
	o.v[Hops], o.v[Path] = hops, path
	if p := priority.FromContext(ctx); p != priority.Default {
		o.v[Priority] = p.String()
	}
	o.v[RequestID] = callguard.RequestIDFromContext(ctx)
	if n := callguard.Attempt(ctx); n > 1 {
		o.v[Attempt] = formatAttempt(n) // a first attempt sends none
	}
	if callguard.IsSynthetic(ctx) {
		o.v[Synthetic] = "1"
	}
	return nil
}

// Get returns the value that o sends of f, or "".
func (o *Outbound) Get(f Field) string { return o.v[f] }

// Alone reports whether o sends no field but f, if it sends any.
func (o *Outbound) Alone(f Field) bool {
	for g := range numFields {
		if g != f && o.v[g] != "" {
			return false
		}
	}
	return true
}

// Holds reports whether g holds any of the fields. (A function, as
// [Changes] is, so that a G that is a struct is not boxed.)
func Holds[G Getter](g G) bool {
	for f := range numFields {
		if g.Get(f) != nil {
			return true
		}
	}
	return false
}

// A Carrier is the header or metadata of an outgoing call, a copy that the
// attempt owns: [Outbound.Write] reads and sets its fields through it.
type Carrier interface {
	Getter
	// Set sets f to v, which the carrier must not change.
	Set(f Field, v []string)
	// Del removes f.
	Del(f Field)
}

// Write writes o into c, which holds what the caller put in its call
// itself. The callguard fields are the context's: those that o sends
// replace the caller's, and the caller's others are dropped, except a
// valid priority when o has none (a caller may set it in its header or
// metadata; the context wins when both do). The request id is o's when it
// has one, and the caller's otherwise.
func (o *Outbound) Write(c Carrier) {
	for f := range numFields {
		switch {
		case o.v[f] != "":
			c.Set(f, o.v[f:f+1:f+1])
		case f == RequestID:
		case f == Priority && validPriority(c.Get(f)):
		case c.Get(f) != nil:
			c.Del(f)
		}
	}
}

// Changes reports whether [Outbound.Write] would change what g reads:
// whether o sends a field, or g holds a callguard field that Write drops
// (every one but the request id and a valid priority). When it does not,
// the caller's call can go out as it is, without a copy of its header or
// metadata. (A function, not a method, so that a G that is a struct is
// not boxed.)
func Changes[G Getter](o *Outbound, g G) bool {
	for f := range numFields {
		switch v := g.Get(f); {
		case o.v[f] != "":
			return true
		case v == nil, f == RequestID:
		case f == Priority && validPriority(v):
		default:
			return true
		}
	}
	return false
}

// AppendPairs appends to kv the metadata key and value of each field that o
// sends, as metadata.AppendToOutgoingContext takes them: what a call with
// no metadata of its caller's sends.
func (o *Outbound) AppendPairs(kv []string) []string {
	for f := range numFields {
		if o.v[f] != "" && names[f].metadata != "" {
			kv = append(kv, names[f].metadata, o.v[f])
		}
	}
	return kv
}

// validPriority reports whether the first of v is a valid priority.
func validPriority(v []string) bool {
	_, ok := priority.Parse(first(v))
	return ok
}

// formatTimeout formats the time left for the Timeout field.
func formatTimeout(d time.Duration) string { return timeout.FormatWire(d) }

// parseTimeout parses a Timeout value.
func parseTimeout(s string) (time.Duration, error) { return timeout.ParseWire(s) }

// A Given is the deadline that an inbound call's caller gives it. The
// zero Given gives none.
type Given struct {
	at         time.Time
	ok, native bool
}

// Claimed returns the deadline that the Timeout field read by g claims,
// from now: HTTP's Callguard-Timeout (the first value; a malformed one
// claims nothing). An Edge server ignores it unless it has a MaxDeadline.
func Claimed[G Getter](g G) Given {
	d, err := parseTimeout(first(g.Get(Timeout)))
	if err != nil {
		return Given{}
	}
	return Given{at: time.Now().Add(d), ok: true}
}

// Native returns ctx's deadline, which the transport sets and enforces
// whatever the server does (gRPC's grpc-timeout), Edge or not.
func Native(ctx context.Context) Given {
	dl, ok := ctx.Deadline()
	return Given{at: dl, ok: ok, native: true}
}

// Deadline returns ctx with the deadline that s gives an inbound call, and
// the function that releases it (nil when ctx is unchanged). The call gets
// the caller's deadline g less s.Margin, at most s.MaxDeadline from now,
// and no later than ctx's own. A call that has no time left, or less than
// s.MinServiceTime, is refused with a [*classify.DeadlineError], and ctx is
// returned unchanged.
func (s *Server) Deadline(ctx context.Context, g Given) (context.Context, context.CancelFunc, error) {
	var set time.Time
	has := g.ok && (g.native || !s.Edge || s.MaxDeadline > 0)
	if has {
		set = g.at.Add(-s.Margin)
	}
	if s.MaxDeadline > 0 {
		if limit := time.Now().Add(s.MaxDeadline); !has || set.After(limit) {
			set, has = limit, true
		}
	}
	dl, ok := ctx.Deadline()
	if has && (!ok || set.Before(dl)) {
		dl, ok = set, true
	} else {
		has = false // ctx's own deadline stands
	}
	if !ok {
		return ctx, nil, nil
	}
	// Measured after the rest, so that a deadline that passes meanwhile
	// (Callguard-Timeout: 1n) is refused as one that had passed.
	if left := time.Until(dl); left <= 0 || left < s.MinServiceTime {
		return ctx, nil, &classify.DeadlineError{Pkg: s.Pkg, Left: left, Min: s.MinServiceTime}
	}
	if !has {
		return ctx, nil, nil
	}
	ctx, cancel := context.WithDeadline(ctx, dl)
	return ctx, cancel, nil
}
