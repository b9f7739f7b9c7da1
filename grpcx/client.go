package grpcx

import (
	"context"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/callguard/callguard"
)

// UnaryClientInterceptor returns an interceptor that runs every unary call
// under p: each attempt the policy makes is one call to gRPC's invoker, and
// the error of a failed attempt is marked by the classifier ([Classify] by
// default) before the policy sees it, with the trailer the server sent.
//
// A call that fails returns gRPC's error itself when the policy passed it on
// unchanged, and otherwise an [*Error] with the gRPC status the caller
// expects: the server's status when a server answered,
// Unavailable for a local rejection, DeadlineExceeded for a timeout.
// errors.Is matches the policy's errors (breaker.ErrOpen, retry.ErrExhausted,
// [callguard.ErrOverloaded]) in it.
//
// Each attempt sends, from its own context, the request's hop budget less
// one and its call path (metadata callguard-hops and callguard-path, see
// [ttl.Outbound]) and its request id (x-request-id), so that a handler that
// calls on with its incoming context passes them on with no code of its
// own; the deadline travels as gRPC's own grpc-timeout. An attempt whose
// request has no hops left fails with [ttl.ErrExhausted] before anything is
// sent; the error is permanent, never retried, and the caller gets an
// [*Error] with FailedPrecondition.
//
// A retry or a hedge sends its number in callguard-attempt (2 and up; a
// first attempt sends none), so that the server sheds it before first
// attempts. A hedge policy hedges only the calls declared idempotent
// ([WithIdempotent], [Idempotent]).
//
// p is wrapped once, here. [DialOptions] installs it with the stream
// interceptor and switches off gRPC's own retries, which would multiply
// p's attempts (see the package documentation). p nil means no policy:
// each call is one attempt, with the metadata above.
func UnaryClientInterceptor(p callguard.Policy, opts ...ClientOption) grpc.UnaryClientInterceptor {
	return newClient(p, opts).unary
}

// DialOptions returns the dial options that put p in a client connection:
// [UnaryClientInterceptor] and [StreamClientInterceptor], sharing one
// wrapping of p, chained after any interceptors given before them, and
// grpc.WithDisableRetry, so that gRPC's own retries (a service config's
// retryPolicy) do not multiply the policy's attempts. gRPC's transparent
// retries stay on. p nil means no policy, propagation only.
//
//	conn, err := grpc.NewClient(addr, append([]grpc.DialOption{
//		grpc.WithTransportCredentials(creds),
//	}, grpcx.DialOptions(p)...)...)
func DialOptions(p callguard.Policy, opts ...ClientOption) []grpc.DialOption {
	c := newClient(p, opts)
	return []grpc.DialOption{
		grpc.WithChainUnaryInterceptor(c.unary),
		grpc.WithChainStreamInterceptor(c.stream),
		grpc.WithDisableRetry(),
	}
}

// client is the state shared by the calls of one client interceptor: its
// policy and its options.
type client struct {
	h callguard.Handler // the policy, wrapped once
	clientOptions
}

func newClient(p callguard.Policy, opts []ClientOption) *client {
	if err := callguard.CheckClient(p); err != nil {
		panic("grpcx: " + err.Error())
	}
	return &client{h: wrap(p), clientOptions: newClientOptions(opts)}
}

// mark classifies the error of a failed attempt. A classifier that returns
// nil leaves the error as it is.
func (c *client) mark(err error, trailer metadata.MD) error {
	if m := c.classify(err, trailer); m != nil {
		return reported(m, trailer) // route.go
	}
	return reported(err, trailer)
}

// unary is the interceptor. Its allocations are the attempt closure, the
// outgoing metadata of each attempt (its context, and for a call with more
// than a hop budget its map) and the reply of each attempt. The closure holds the call's arguments by value
// and never changes them. Each attempt decodes into a reply of its own, and
// the first to succeed while the call lasts moves it into the caller's
// (see replySlot): an attempt that a policy abandons (timeout.WithAbandon)
// cannot write into the caller's reply after the call returned, nor while
// another attempt does. What else an attempt changes, its trailer and its
// option slice, comes from a pool for the length of the attempt.
func (c *client) unary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	h, callOpts := callOptions(c.h, opts)
	slot := replySlots.Get().(*replySlot)
	gen, rt := slot.gen, typeOf(reply)
	err := h(c.policyContext(ctx, method, opts), func(ctx context.Context) error {
		ctx, err := outgoing(ctx)
		if err != nil {
			return err // ttl.ErrExhausted, permanent: nothing was sent
		}
		a := attempts.Get().(*attempt)
		own := rt.own(reply)
		err = invoker(ctx, method, req, own, cc, a.options(callOpts)...)
		trailer := a.trailer
		a.reset()
		attempts.Put(a)
		if err != nil {
			return c.mark(err, trailer)
		}
		slot.win(gen, reply, own)
		return nil
	})
	slot.end()
	replySlots.Put(slot)
	if err != nil {
		return callerError(ctx, c.dependency.Named(err))
	}
	return nil
}

// An attempt holds what one unary attempt writes: the call options passed to
// gRPC, which end with a grpc.Trailer option made once, and the trailer that
// option receives. An attempt belongs to one goroutine from Get to Put.
type attempt struct {
	opts     []grpc.CallOption
	trailer  metadata.MD
	trailerO grpc.CallOption // grpc.Trailer(&a.trailer)
}

var attempts = sync.Pool{New: func() any {
	a := &attempt{opts: make([]grpc.CallOption, 0, 8)}
	a.trailerO = grpc.Trailer(&a.trailer)
	return a
}}

// options returns opts followed by the trailer option, in a's buffer.
func (a *attempt) options(opts []grpc.CallOption) []grpc.CallOption {
	a.opts = append(append(a.opts[:0], opts...), a.trailerO)
	return a.opts
}

// reset drops the references a holds, for a's return to the pool.
func (a *attempt) reset() {
	clear(a.opts)
	a.opts = a.opts[:0]
	a.trailer = nil
}
