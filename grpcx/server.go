package grpcx

import (
	"context"
	"errors"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/internal/priority"
	"github.com/callguard/callguard/internal/propagation"
)

// UnaryServerInterceptor returns an interceptor that runs every unary
// handler under p, with the context the policy gives it (a server-side
// timeout's deadline, for example).
//
// When the policy refuses the call or the handler fails, the error is
// mapped to a status as the table of docs/design.md says:
//
//   - overloaded, rejected, shed (bulkhead.ErrFull, breaker.ErrOpen,
//     [callguard.ErrOverloaded]): Unavailable, with the trailer
//     grpc-retry-pushback-ms set to the pushback delay in milliseconds, or
//     to -1, "do not retry", when none is known. The same error returned by
//     the handler comes from one of its own calls, which its client has
//     retried as far as its policy allowed: -1 whatever delay it carries,
//     as httpx.Error does. Only the tier next to the fault retries;
//   - retries that ran out (retry.ErrExhausted, as from a handler whose own
//     client interceptor gave up on a dependency), unless the last error
//     was permanent, a loop or a hop refusal: Unavailable with
//     grpc-retry-pushback-ms -1, whatever that error was. The handler's
//     client was next to the fault and has retried; no tier above may;
//   - a timeout or deadline (timeout.ErrTimeout, context.DeadlineExceeded):
//     DeadlineExceeded;
//   - the caller's cancellation: Canceled;
//   - a loop in the call path or an exhausted hop budget: FailedPrecondition
//     with the trailer callguard-error set to "loop" or "hops";
//   - anything else is returned as the handler returned it: a status error
//     keeps its status, and gRPC turns a plain error into Unknown. The
//     policy sees a handler's own Unavailable or ResourceExhausted as
//     overloaded and its DeadlineExceeded as a deadline, so that a
//     [github.com/callguard/callguard/loadshed.Limiter] backs off on them ([github.com/callguard/callguard/loadshed.OutcomeOf]); the
//     status goes out unchanged.
//
// Before the policy runs, the interceptor puts the call's hop budget and
// path (metadata callguard-hops and callguard-path, see [ttl.Inbound]) and
// its request id (the first x-request-id: 1 to 128 visible ASCII
// characters, or one made with [WithRequestIDs]; echoed in the response
// header, refusals included) in the context, so that a [ttl.TTL] first in
// p checks the call for a loop and the handler's outgoing calls, made with
// its context through this package's client interceptors, carry them on.
// It applies [WithDeadlineMargin] and [WithMaxDeadline] to gRPC's deadline,
// and refuses with DeadlineExceeded, before the policy and the handler, a
// call with less time left than [WithMinServiceTime]. [Edge] ignores the
// callers' hops and path. A loop refusal also sends the trailer
// callguard-path, the whole loop as [ttl.FormatPath] writes it, except at
// an Edge server, whose answer names no internal service.
//
// A [github.com/callguard/callguard/loadshed.Limiter] in p sheds calls: a shed call is answered
// Unavailable with grpc-retry-pushback-ms -1 (or the limiter's delay, see
// loadshed.WithPushback), a call refused for want of time
// ([github.com/callguard/callguard/loadshed.ErrDeadline]) DeadlineExceeded with grpc-retry-pushback-ms -1,
// as the refusal of [WithMinServiceTime] is. It ranks calls by the
// priority that the caller sent in callguard-priority (not with [Edge]),
// or that [WithPriority] assigns to the method, and learns from the
// handler's error ([github.com/callguard/callguard/loadshed.OutcomeOf]: an overloaded or deadline error
// backs the limit off). [WithExempt] takes methods such as health checks
// out of the policy altogether.
//
// A healthy call costs the policy's own work and one allocation (the
// call's closure), four more when [WithDeadlineMargin] or [WithMaxDeadline]
// changes its deadline (context.WithDeadline: the default margin changes
// every deadline), and four more when it carries hops and a path (the hop
// state and its context); TestServerInterceptorAllocs guards these. p is
// wrapped once, here. A handler runs at most once: a policy that tries to
// run it again (a retry) gets a permanent error, and the call is answered
// as the handler's one run answered. p nil means no policy: the call gets
// the context above and runs once. It panics if an option has a negative
// duration.
func UnaryServerInterceptor(p callguard.Policy, opts ...ServerOption) grpc.UnaryServerInterceptor {
	return newServer(p, opts).unary
}

// StreamServerInterceptor returns an interceptor that runs every stream
// handler under p, as [UnaryServerInterceptor] does for unary handlers, with
// the same mapping of errors to statuses. The handler sees the policy's
// context through the stream's Context method. A stream handler runs at most
// once, as a unary one does. p nil means no policy. It panics if an option
// has a negative duration.
func StreamServerInterceptor(p callguard.Policy, opts ...ServerOption) grpc.StreamServerInterceptor {
	return newServer(p, opts).stream
}

// server is the state shared by the calls of one server interceptor: its
// policy and its options.
type server struct {
	h callguard.Handler
	serverOptions
}

// newServer resolves opts. It panics, with a message that names the
// option, on a negative duration.
func newServer(p callguard.Policy, opts []ServerOption) *server {
	if err := callguard.CheckServer(p); err != nil {
		panic("grpcx: " + err.Error())
	}
	s := &server{h: wrap(p)}
	s.prop = propagation.Server{Margin: DefaultDeadlineMargin, Pkg: "grpcx"}
	for _, opt := range opts {
		opt.applyServer(&s.serverOptions)
	}
	s.prop.Check()
	return s
}

// wrap returns the handler that runs a call under p: p wraps it once, and
// p nil means no policy (the call runs once, with propagation).
func wrap(p callguard.Policy) callguard.Handler {
	if p == nil {
		return callguard.Invoke
	}
	return p.Wrap(callguard.Invoke)
}

// reject reports err, the failure of a call to method that its handler did
// not return, to the OnReject hook. ctx is the handler's context.
func (s *server) reject(ctx context.Context, method string, err error) {
	if s.onReject != nil {
		s.onReject(ctx, method, callguard.ErrorWithRequestID(ctx, err))
	}
}

// admit finishes the context of a call to method after inbound: it reports
// whether the call is exempt from the policy, and otherwise sets the
// priority that the server assigns to the method, if any. It marks the
// call synthetic if [WithSynthetic] says so, exempt or not.
func (s *server) admit(ctx context.Context, method string) (_ context.Context, exempt bool) {
	if s.synthetic != nil && s.synthetic(ctx, method) {
		ctx = callguard.ContextWithSynthetic(ctx) // the server's word, Edge or not
	}
	if s.exempt != nil && s.exempt(method) {
		return ctx, true
	}
	if s.priority != nil {
		ctx = priority.NewContext(ctx, s.priority(method)) // the server's word over the caller's
	}
	return ctx, false
}

// unary is the interceptor. Its one allocation is the closure, which holds
// the call's arguments by value; the response travels back in a pooled
// result, which a handler that a policy abandoned (timeout.WithAbandon) can
// no longer write once the call has returned.
func (s *server) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	ctx, cancel, err := s.inbound(ctx)
	if id := callguard.RequestIDFromContext(ctx); id != "" {
		_ = grpc.SetHeader(ctx, idHeader(id)) // fails only when the stream is gone
	}
	if err != nil {
		s.reject(ctx, info.FullMethod, err)
		return nil, s.failure(ctx, err, grpc.SetTrailer)
	}
	if cancel != nil {
		defer cancel()
	}
	ctx, exempt := s.admit(ctx, info.FullMethod)
	if exempt {
		return handler(ctx, req)
	}
	r := results.Get().(*result)
	gen := r.gen
	err = s.h(ctx, func(ctx context.Context) error {
		if !r.start(gen) {
			return errRerun
		}
		resp, err := handler(ctx, req)
		r.set(gen, resp, err)
		return marked(err)
	})
	resp, returned, herr := r.take()
	results.Put(r)
	if err = s.settle(ctx, info.FullMethod, err, returned, herr); err != nil {
		return nil, s.failure(ctx, err, grpc.SetTrailer)
	}
	return resp, nil
}

// A result carries a handler's response to the interceptor, and lets the
// policy run the handler once: a retry in a server policy must not run it
// again. gen changes whenever the result goes back to the pool, and a
// handler starts, and sets its response, only while gen is still the one of
// its call.
type result struct {
	mu       sync.Mutex
	gen      uint64 // written under mu by the owner only
	started  bool   // the handler of this gen has started
	resp     any
	err      error
	returned bool // the handler of this gen has returned resp and err
}

var results = sync.Pool{New: func() any { return new(result) }}

// start reports whether the handler of call gen may run: it is the call's
// first run, and the call is not over.
func (r *result) start(gen uint64) bool {
	r.mu.Lock()
	ok := r.gen == gen && !r.started
	r.started = r.started || ok
	r.mu.Unlock()
	return ok
}

func (r *result) set(gen uint64, resp any, err error) {
	r.mu.Lock()
	if r.gen == gen {
		r.resp, r.err, r.returned = resp, err, true
	}
	r.mu.Unlock()
}

// take returns the handler's response and error, and whether it has
// returned them, and readies r for another call.
func (r *result) take() (resp any, returned bool, err error) {
	r.mu.Lock()
	resp, returned, err = r.resp, r.returned, r.err
	r.resp, r.returned, r.err, r.started = nil, false, nil, false
	r.gen++
	r.mu.Unlock()
	return resp, returned, err
}

// settle returns the error that a call to method is answered with, given
// err, the policy's, and the handler's own error herr if it returned. A
// policy that tried to run the handler again ([errRerun]) does not change
// the handler's answer, which stands as the handler returned it. A failure
// that is not the handler's is reported to OnReject.
func (s *server) settle(ctx context.Context, method string, err error, returned bool, herr error) error {
	if err == nil {
		return nil
	}
	if returned && errors.Is(err, errRerun) {
		if err = marked(herr); err == nil {
			return nil
		}
	}
	if !handlers(err, returned, herr) {
		s.reject(ctx, method, err)
	}
	return err
}

// handlers reports whether err, the policy's error for a call, is the
// handler's own: the handler had returned herr when the policy returned,
// and err is or wraps it. The error of a policy that gave up on the
// handler is not, even if the handler returned just after.
func handlers(err error, returned bool, herr error) bool {
	return returned && herr != nil && errors.Is(err, herr)
}

// errRerun is returned when a policy runs a handler a second time.
var errRerun = callguard.Permanent(errors.New("grpcx: a server handler runs at most once"))

func (s *server) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	ctx, cancel, err := s.inbound(ss.Context())
	if id := callguard.RequestIDFromContext(ctx); id != "" {
		_ = ss.SetHeader(idHeader(id))
	}
	if err != nil {
		s.reject(ctx, info.FullMethod, err)
		return s.failure(ss.Context(), err, streamTrailer(ss))
	}
	if cancel != nil {
		defer cancel()
	}
	ctx, exempt := s.admit(ctx, info.FullMethod)
	if exempt {
		return handler(srv, withContext(ss, ctx))
	}
	r := results.Get().(*result)
	gen := r.gen
	err = s.h(ctx, func(ctx context.Context) error {
		if !r.start(gen) {
			return errRerun
		}
		err := handler(srv, withContext(ss, ctx))
		r.set(gen, nil, err)
		return marked(err)
	})
	_, returned, herr := r.take()
	results.Put(r)
	if err = s.settle(ctx, info.FullMethod, err, returned, herr); err != nil {
		return s.failure(ss.Context(), err, streamTrailer(ss))
	}
	return nil
}

// withContext returns ss with ctx as its context.
func withContext(ss grpc.ServerStream, ctx context.Context) grpc.ServerStream {
	if ctx == ss.Context() {
		return ss
	}
	return &serverStream{ServerStream: ss, ctx: ctx}
}

// A serverStream gives a stream handler the policy's context.
type serverStream struct {
	grpc.ServerStream
	ctx context.Context
}

// Context returns the policy's context.
func (s *serverStream) Context() context.Context { return s.ctx }

// streamTrailer returns the function that sets ss's trailer, for failure.
func streamTrailer(ss grpc.ServerStream) func(context.Context, metadata.MD) error {
	return func(_ context.Context, md metadata.MD) error {
		ss.SetTrailer(md)
		return nil
	}
}

// failure maps err to the error a server interceptor returns, and sets the
// trailer that goes with it with setTrailer.
func (s *server) failure(ctx context.Context, err error, setTrailer func(context.Context, metadata.MD) error) error {
	md, err := serverError(err, !s.prop.Edge)
	if md != nil {
		_ = setTrailer(ctx, md) // fails only when the stream is gone
	}
	return err
}
