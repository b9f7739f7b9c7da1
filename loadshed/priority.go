package loadshed

import (
	"context"

	"github.com/callguard/callguard/internal/priority"
	"github.com/callguard/callguard/internal/wire"
)

// Header and metadata names of the wire protocol: the priority of a request
// travels in them from a client to the servers it calls. The adapters read
// and write them; [ParsePriority] and [Priority.String] are the codec.
const (
	PriorityHeader   = wire.PriorityHeader   // "Callguard-Priority"
	PriorityMetadata = wire.PriorityMetadata // "callguard-priority"
)

// A Priority says how important a request is when a server must shed load:
// under overload a [Limiter] sheds [Sheddable] requests first and
// [Critical] requests last. The zero value is [Default].
//
// Priorities are ordered: a larger value is more important. Its String
// method returns the wire name: "critical", "default" or "sheddable", or
// "Priority(n)" for a value that is none of those.
//
// Priority is defined in an internal package, which the adapters use
// without linking this package's limiters; it is the same type.
type Priority = priority.Priority

// The priorities, least important first.
const (
	// Sheddable marks work that may be dropped first: prefetches, batch
	// jobs, retries of background tasks.
	Sheddable = priority.Sheddable
	// Default is the priority of a request that carries none.
	Default = priority.Default
	// Critical marks work whose loss a user sees: it is shed last.
	Critical = priority.Critical
)

// valid reports whether p is one of the three priorities.
func valid(p Priority) bool { return p >= Sheddable && p <= Critical }

// rank maps a valid priority to 0 (sheddable), 1 (default), 2 (critical).
func rank(p Priority) int { return int(p - Sheddable) }

// ParsePriority parses a Callguard-Priority value: "critical", "default" or
// "sheddable", in any ASCII case, with surrounding white space. For anything
// else it returns Default, false; the caller then treats the request as
// having no priority. It never allocates.
func ParsePriority(s string) (Priority, bool) { return priority.Parse(s) }

// NewContext returns a copy of ctx that carries priority p. A value outside
// [Sheddable, Critical] is clamped into it. Adapters call it with the
// priority of an inbound request; a client sets it for the calls it makes,
// and the adapters send it onward. It allocates only the context.
func NewContext(ctx context.Context, p Priority) context.Context {
	return priority.NewContext(ctx, p)
}

// FromContext returns the priority carried by ctx, or [Default] when it
// carries none.
func FromContext(ctx context.Context) Priority { return priority.FromContext(ctx) }
