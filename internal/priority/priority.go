// Package priority holds a request's priority, its wire codec and its
// context functions, so that httpx and grpcx carry a priority without
// linking loadshed's limiters (and golang.org/x/time). loadshed re-exports
// all of it: its Priority is an alias of [Priority], and its constants and
// functions are these (docs/design.md, "Layers").
package priority

import (
	"context"
	"strconv"
	"strings"

	"github.com/callguard/callguard/internal/wire"
)

// The header and metadata names that carry a priority; [Priority.String]
// and [Parse] are their codec.
const (
	Header   = wire.PriorityHeader
	Metadata = wire.PriorityMetadata
)

// A Priority says how important a request is when a server must shed load:
// under overload a limiter sheds [Sheddable] requests first and [Critical]
// requests last. The zero value is [Default].
//
// Priorities are ordered: a larger value is more important.
type Priority int8

// The priorities, least important first.
const (
	// Sheddable marks work that may be dropped first: prefetches, batch
	// jobs, retries of background tasks.
	Sheddable Priority = -1
	// Default is the priority of a request that carries none.
	Default Priority = 0
	// Critical marks work whose loss a user sees: it is shed last.
	Critical Priority = 1
)

// String returns the wire name of p: "critical", "default" or "sheddable",
// or "Priority(n)" for a value that is none of those.
func (p Priority) String() string {
	switch p {
	case Critical:
		return "critical"
	case Default:
		return "default"
	case Sheddable:
		return "sheddable"
	}
	return "Priority(" + strconv.Itoa(int(p)) + ")"
}

// Parse parses a Callguard-Priority value: "critical", "default" or
// "sheddable", in any ASCII case, with surrounding white space. For anything
// else it returns Default, false; the caller then treats the request as
// having no priority. It never allocates.
func Parse(s string) (Priority, bool) {
	s = strings.TrimSpace(s)
	for _, p := range [...]Priority{Critical, Default, Sheddable} {
		if asciiEqualFold(s, p.String()) {
			return p, true
		}
	}
	return Default, false
}

// asciiEqualFold reports whether s equals lower, a lower-case ASCII word,
// ignoring ASCII case only: a wire name has one spelling per case.
func asciiEqualFold(s, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c|0x20 != lower[i] {
			return false
		}
	}
	return true
}

type key struct{}

// NewContext returns a copy of ctx that carries priority p. A value outside
// [Sheddable, Critical] is clamped into it. It allocates only the context.
func NewContext(ctx context.Context, p Priority) context.Context {
	return context.WithValue(ctx, key{}, min(max(p, Sheddable), Critical))
}

// FromContext returns the priority carried by ctx, or [Default] when it
// carries none.
func FromContext(ctx context.Context) Priority {
	p, _ := ctx.Value(key{}).(Priority)
	return p
}
