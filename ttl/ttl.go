package ttl

import (
	"context"
	"fmt"
	"strings"

	"github.com/callguard/callguard"
)

// DefaultHops is the hop budget of a request that arrives without one.
const DefaultHops = 16

// state is what a request carries through a service: its hop budget and the
// path it took. It is immutable once in a context.
type state struct {
	hops    int    // hops left for this service's outgoing calls
	hopsSet bool   // hops came from the wire or NewContext, not a default
	path    string // canonical comma list of the services before this one
	self    string // this service's id; outgoing calls append it to path
	checked bool   // a TTL policy has checked the request for a loop
}

type key struct{}

func fromContext(ctx context.Context) *state {
	st, _ := ctx.Value(key{}).(*state)
	return st
}

// NewContext returns a copy of ctx whose requests may make calls hops deep.
// Adapters call it for inbound requests; tests and batch jobs may set a
// budget by hand.
func NewContext(ctx context.Context, hops int) context.Context {
	st := state{checked: true} // a budget set by hand is no inbound request
	if old := fromContext(ctx); old != nil {
		st = *old
	}
	st.hops, st.hopsSet = min(max(hops, 0), MaxHops), true
	return context.WithValue(ctx, key{}, &st)
}

// FromContext returns the hop budget carried by ctx, if any.
func FromContext(ctx context.Context) (hops int, ok bool) {
	if st := fromContext(ctx); st != nil && st.hopsSet {
		return st.hops, true
	}
	return 0, false
}

// PathFromContext returns the services the request in ctx passed through
// before this one, oldest first.
func PathFromContext(ctx context.Context) []string {
	if st := fromContext(ctx); st != nil && st.path != "" {
		return strings.Split(st.path, ",")
	}
	return nil
}

// Inbound returns a context carrying the hop budget and call path of an
// inbound request, from the raw values of its Callguard-Hops and
// Callguard-Path headers (or gRPC metadata). It is for adapters; the loop
// check runs later, in the server's [TTL] policy.
//
// Malformed values are ignored, never fatal: a hop count that does not
// parse counts as absent (the server's default budget applies), and an
// invalid path counts as empty (the hop budget still bounds the request).
// Servers that face untrusted callers pass empty strings (edge mode).
func Inbound(ctx context.Context, hops, path string) context.Context {
	if hops == "" && path == "" && fromContext(ctx) == nil {
		// Nothing to carry: a TTL policy treats a context without state as
		// a request that arrived without headers, and gives it its own
		// default budget. Most requests at an edge take this path, at no
		// allocation.
		return ctx
	}
	st := &state{}
	if hops != "" {
		if n, err := ParseHops(hops); err == nil {
			st.hops, st.hopsSet = n, true
		}
	}
	if path != "" {
		if p, err := canonicalPath(path); err == nil {
			st.path = p
		}
	}
	return context.WithValue(ctx, key{}, st)
}

// Outbound returns the Callguard-Hops and Callguard-Path values for a call
// made with ctx, or [ErrExhausted] when the request has no hops left, in
// which case the call must not be sent. It is for adapters.
//
// A context with no budget sends DefaultHops-1. The path is the inbound
// path with this service's id appended; it allocates only then.
func Outbound(ctx context.Context) (hops, path string, err error) {
	st := fromContext(ctx)
	if st == nil {
		return FormatHops(DefaultHops - 1), "", nil
	}
	n := st.hops
	if !st.hopsSet {
		n = DefaultHops
	}
	if n <= 0 {
		return "", "", ErrExhausted
	}
	path = st.path
	if st.self != "" {
		if path == "" {
			path = st.self
		} else {
			path, _ = canonicalPath(path + "," + st.self)
		}
	}
	return FormatHops(n - 1), path, nil
}

// A TTL is the hop-limit and loop-detection policy of one service. It is
// safe for concurrent use.
//
// In a server's pipeline (put it first), it checks each inbound request: a
// request whose path already holds this service's id is a loop, refused
// with a [*LoopError] before the handler runs. It then records this
// service's id, so that the handler's outgoing calls carry it onward.
//
// In a client's pipeline, it refuses a call whose request has no hops left
// with [ErrExhausted], before anything is sent. The adapters check the
// budget too, so a client without the policy never sends such a call
// either; the policy gives non-HTTP, non-gRPC calls the same guard, but
// only for a request that a TTL has checked already (or whose budget was
// set with [NewContext]): in a server whose pipeline has no TTL, the first
// TTL that an inbound request meets takes the server's role, and lets the
// call run with no hops left.
type TTL struct {
	service     string
	defaultHops int
}

var _ callguard.Policy = (*TTL)(nil)

// An Option configures a [TTL].
type Option interface{ apply(*TTL) }

type optionFunc func(*TTL)

func (f optionFunc) apply(t *TTL) { f(t) }

// WithService sets this service's id, used to detect loops and carried in
// the path of outgoing calls. Without it the policy enforces the hop budget
// but cannot detect loops. An id is 1 to 32 letters, digits, '.', '_' or '-'.
func WithService(id string) Option {
	return optionFunc(func(t *TTL) { t.service = id })
}

// WithDefaultHops sets the hop budget of a request that arrives without one.
// The default is [DefaultHops] (16).
func WithDefaultHops(n int) Option {
	return optionFunc(func(t *TTL) { t.defaultHops = n })
}

// New returns a TTL policy. It panics with a message that names the problem
// if a service id is invalid or the default budget is outside [1, MaxHops].
func New(opts ...Option) *TTL {
	t := &TTL{defaultHops: DefaultHops}
	for _, o := range opts {
		o.apply(t)
	}
	if t.service != "" && !ValidService(t.service) {
		panic(fmt.Sprintf("ttl: invalid service id %q: want 1 to %d letters, digits, '.', '_' or '-'", t.service, MaxServiceLen))
	}
	if t.defaultHops < 1 || t.defaultHops > MaxHops {
		panic(fmt.Sprintf("ttl: default hops must be in [1, %d], got %d", MaxHops, t.defaultHops))
	}
	return t
}

// Do runs fn if the request in ctx may go on: see [TTL].
func (t *TTL) Do(ctx context.Context, fn func(context.Context) error) error {
	return t.handle(ctx, fn, callguard.Invoke)
}

// Wrap implements [callguard.Policy].
func (t *TTL) Wrap(next callguard.Handler) callguard.Handler {
	return func(ctx context.Context, call func(context.Context) error) error {
		return t.handle(ctx, call, next)
	}
}

func (t *TTL) handle(ctx context.Context, call func(context.Context) error, next callguard.Handler) error {
	st := fromContext(ctx)
	switch {
	case st == nil:
		if t.service == "" && t.defaultHops == DefaultHops {
			return next(ctx, call) // Outbound's defaults say the same
		}
		ctx = context.WithValue(ctx, key{}, &state{hops: t.defaultHops, hopsSet: true, self: t.service, checked: true})
	case !st.checked:
		if t.service != "" && pathContains(st.path, t.service) {
			return &LoopError{Path: append(strings.Split(st.path, ","), t.service)}
		}
		ns := *st
		ns.checked, ns.self = true, t.service
		if !ns.hopsSet {
			ns.hops, ns.hopsSet = t.defaultHops, true
		}
		ctx = context.WithValue(ctx, key{}, &ns)
	case st.hopsSet && st.hops <= 0:
		return ErrExhausted
	}
	return next(ctx, call)
}
