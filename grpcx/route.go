package grpcx

import (
	"context"
	"errors"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/callguard/callguard/internal/propagation"
	"github.com/callguard/callguard/internal/wire"
	"github.com/callguard/callguard/route"
)

// UnavailableMetadata is the trailer by which a server names the
// dependency whose outage made it refuse a call, and how long it expects
// the outage to last: "payments; for=5s" (see package route).
const UnavailableMetadata = wire.UnavailableMetadata

// WithDependency names the service that a client interceptor calls, as
// its caller sees it, so that a server interceptor whose handler returns
// one of its failures answers its own callers with the trailer
// callguard-unavailable naming it (for the [RouteInterceptor] of the tier
// above). It means the same as httpx.WithDependency.
//
// down lists the errors, matched with errors.Is, that mean the dependency
// is down, typically breaker.ErrOpen: a failed unary call whose error
// matches one of them comes back with a [*route.UnavailableError] with the
// name inside, keeping its status and class (an open breaker is still
// Unavailable, "don't retry"). Do not list refusals for load (a full
// bulkhead, a throttle's or a shed refusal): the tier above would refuse
// every call of the method, turning partial shedding into an outage.
// Streams are not named. WithDependency panics if name is not 1 to 64
// letters, digits, '.', '_' or '-', or down is empty.
func WithDependency(name string, down ...error) ClientOption {
	d := propagation.NewDependency("grpcx", name, down)
	return clientOption(func(o *clientOptions) { o.dependency = d })
}

// setUnavailable adds to md, the trailer of an overloaded answer, the
// callguard-unavailable entry when err names a dependency that is down.
func setUnavailable(md metadata.MD, err error) {
	if v := propagation.UnavailableValue(err); v != "" {
		md[wire.UnavailableMetadata] = []string{v}
	}
}

// reported returns err, a failed attempt's, as a [*route.UnavailableError]
// when its trailer names a dependency of the callee that is down: for a
// [RouteInterceptor] to learn, for a loadshed.Throttle not to count as the
// callee's load ([callguard.ErrDownstream]), and for a server whose
// handler passes it on to name the dependency to its own callers.
func reported(err error, trailer metadata.MD) error {
	v := trailer[wire.UnavailableMetadata]
	if len(v) == 0 {
		return err
	}
	dep, d, perr := propagation.ParseUnavailable(v[0])
	if perr != nil {
		return err
	}
	return &route.UnavailableError{Dependency: dep, For: d, Err: err}
}

// RouteInterceptor returns a unary client interceptor that keeps t, the
// route table of the one service the connection calls, and refuses a call
// whose route needs a dependency that the service reported down, without
// sending it: the error has status Unavailable and matches
// [route.ErrUnavailable] and [callguard.ErrRejected], so no retry and no
// breaker acts on it. Chain it before the policy's interceptors, so that
// it runs outermost:
//
//	grpc.NewClient(addr, append([]grpc.DialOption{creds,
//		grpc.WithChainUnaryInterceptor(grpcx.RouteInterceptor(route.New(), nil)),
//	}, grpcx.DialOptions(p)...)...)
//
// It learns from the service's answers, as read by this package's client
// interceptor, which must run inside it: an Unavailable call whose trailer
// callguard-unavailable names a dependency links the call's route to it,
// for as long as the trailer says (see package route); one call of a
// refused route per probe interval goes through, and an answer that is
// not Unavailable ends the route's refusal. key returns a call's route
// from its full method name; nil means the full method name. Use it only
// towards services of your own system: their answers decide what it
// refuses. It panics if t is nil.
func RouteInterceptor(t *route.Table, key func(fullMethod string) string) grpc.UnaryClientInterceptor {
	if t == nil {
		panic("grpcx: RouteInterceptor: nil table")
	}
	if key == nil {
		key = func(m string) string { return m }
	}
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		var k string
		probe := false
		if t.Linked() {
			k = key(method)
			var err error
			if probe, err = t.Admit(k); err != nil {
				return callerError(ctx, err)
			}
		}
		err := invoker(ctx, method, req, reply, cc, opts...)
		if err != nil {
			if ue, ok := errors.AsType[*route.UnavailableError](err); ok {
				if k == "" {
					k = key(method)
				}
				t.Observe(k, ue.Dependency, ue.For)
				return err
			}
		}
		if probe && status.Code(err) != codes.Unavailable {
			t.Recovered(k)
		}
		return err
	}
}
