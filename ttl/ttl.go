package ttl

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/callguard/callguard"
)

// DefaultHops is the hop budget of a request that arrives without one.
const DefaultHops = 16

// A stateCtx is a context that carries a request's hop state: its parent
// and the state in one allocation, the only one that [Inbound] makes.
//
// hops, hopsSet, path and manual do not change once the context exists.
// by is set at most once, by the [TTL] that checks the request (see
// [TTL.Do]): checking an inbound request records it in place, at no
// allocation, before the request goes on. out caches the path of outgoing
// calls, made on the first [Outbound].
type stateCtx struct {
	context.Context
	hops    int    // hops left for this service's outgoing calls
	hopsSet bool   // hops came from the wire or NewContext, not a default
	path    string // canonical comma list of the services before this one
	manual  bool   // NewContext made it: no inbound request to check
	by      atomic.Pointer[TTL]

	outOnce sync.Once
	out     string // path + "," + by's service, or path
}

type key struct{}

// Value returns the state for key{}, and the parent's values otherwise.
func (c *stateCtx) Value(k any) any {
	if _, ok := k.(key); ok {
		return c
	}
	return c.Context.Value(k)
}

func (c *stateCtx) String() string { return fmt.Sprint(c.Context) + ".WithValue(ttl)" }

func fromContext(ctx context.Context) *stateCtx {
	st, _ := ctx.Value(key{}).(*stateCtx)
	return st
}

// checked reports whether a TTL has checked st's request, or NewContext set
// its budget by hand: either way no loop check is due.
func (st *stateCtx) checked() bool { return st.manual || st.by.Load() != nil }

// budget returns the hops left for the request's outgoing calls: the
// carried budget, else the default of the TTL that checked it, else
// DefaultHops.
func (st *stateCtx) budget() (n int, set bool) {
	if st.hopsSet {
		return st.hops, true
	}
	if t := st.by.Load(); t != nil {
		return t.defaultHops, true
	}
	return DefaultHops, false
}

// outPath returns the path of the request's outgoing calls: the inbound
// path with the id of the service that checked it appended. It joins the
// two once per request.
func (st *stateCtx) outPath() string {
	t := st.by.Load()
	if t == nil || t.service == "" {
		return st.path
	}
	if st.path == "" {
		return t.service
	}
	st.outOnce.Do(func() { st.out, _ = canonicalPath(st.path + "," + t.service) })
	return st.out
}

// NewContext returns a copy of ctx whose requests may make calls hops deep.
// Tests and batch jobs may set a budget by hand; a [TTL] does not check a
// request whose budget was set so.
func NewContext(ctx context.Context, hops int) context.Context {
	st := &stateCtx{Context: ctx, manual: true}
	if old := fromContext(ctx); old != nil {
		st.path = old.path
		st.by.Store(old.by.Load())
	}
	st.hops, st.hopsSet = min(max(hops, 0), MaxHops), true
	return st
}

// FromContext returns the hop budget carried by ctx, if any.
func FromContext(ctx context.Context) (hops int, ok bool) {
	if st := fromContext(ctx); st != nil {
		if n, set := st.budget(); set {
			return n, true
		}
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
	st := &stateCtx{Context: ctx}
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
	return st
}

// exhausted reports whether the request in ctx has no hops left: whether
// [Outbound] refuses a call made with ctx. It allocates nothing.
func exhausted(ctx context.Context) bool {
	st := fromContext(ctx)
	if st == nil {
		return false
	}
	n, _ := st.budget()
	return n <= 0
}

// Outbound returns the Callguard-Hops and Callguard-Path values for a call
// made with ctx, or [ErrExhausted] when the request has no hops left, in
// which case the call must not be sent. It is for adapters.
//
// A context with no hop state (a call that no inbound request started,
// and that no [Guard] or [NewContext] gave a budget) sends nothing: the
// callee gives it its own default budget, as to any request that arrives
// without the fields, and no header or metadata is added to the call. The
// path is the inbound path with the id of the service that checked the
// request appended; it is joined once per request.
func Outbound(ctx context.Context) (hops, path string, err error) {
	st := fromContext(ctx)
	if st == nil {
		return "", "", nil
	}
	n, _ := st.budget()
	if n <= 0 {
		return "", "", ErrExhausted
	}
	return FormatHops(n - 1), st.outPath(), nil
}

// A TTL is the hop-limit and loop-detection check of one service, for the
// server's pipeline (put it first). It is safe for concurrent use.
//
// It checks each inbound request once: a request whose path already holds
// this service's id is a loop, refused with a [*LoopError] before the
// handler runs. It then records this service's id and default budget, so
// that the handler's outgoing calls carry them onward. A request that a
// TTL has checked already, or whose budget was set with [NewContext],
// passes unchanged. A TTL never refuses a request for its hop budget: a
// request that arrives with 0 hops may be served, but makes no calls.
// For a client's pipeline, use a [Guard].
//
// A TTL with a service id also starts the path of a request that has no
// hop state, such as a batch job's.
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

// Do runs fn if the request in ctx is no loop: see [TTL].
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
		if t.service != "" || t.defaultHops != DefaultHops { // else Outbound's defaults say the same
			st = &stateCtx{Context: ctx}
			st.by.Store(t)
			ctx = st
		}
	case st.checked():
	case t.service != "" && pathContains(st.path, t.service):
		return &LoopError{Path: append(strings.Split(st.path, ","), t.service)}
	default:
		st.by.CompareAndSwap(nil, t) // a TTL that checked it first keeps it
	}
	return next(ctx, call)
}

// A Guard is the hop-budget check of a client's pipeline. It refuses a call
// with [ErrExhausted], before running it, exactly when [Outbound] would:
// when the request in the call's context has no hops left. The adapters
// make this check on every call they send; a Guard gives other calls the
// same check. The zero value is ready to use and safe for concurrent use.
type Guard struct{}

var _ callguard.Policy = (*Guard)(nil)

// NewGuard returns a Guard.
func NewGuard() *Guard { return &Guard{} }

// Do runs fn unless the request in ctx has no hops left.
func (*Guard) Do(ctx context.Context, fn func(context.Context) error) error {
	if exhausted(ctx) {
		return ErrExhausted
	}
	return fn(ctx)
}

// Wrap implements [callguard.Policy].
func (*Guard) Wrap(next callguard.Handler) callguard.Handler {
	return func(ctx context.Context, call func(context.Context) error) error {
		if exhausted(ctx) {
			return ErrExhausted
		}
		return next(ctx, call)
	}
}
