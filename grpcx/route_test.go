package grpcx_test

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/breaker"
	"github.com/callguard/callguard/callguardtest"
	"github.com/callguard/callguard/grpcx"
	"github.com/callguard/callguard/internal/race"
	"github.com/callguard/callguard/loadshed"
	"github.com/callguard/callguard/route"
)

// leaf answers UnaryCall and EmptyCall.
type leaf struct {
	testpb.UnimplementedTestServiceServer
}

func (leaf) UnaryCall(context.Context, *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	return &testpb.SimpleResponse{}, nil
}

func (leaf) EmptyCall(context.Context, *testpb.Empty) (*testpb.Empty, error) {
	return &testpb.Empty{}, nil
}

// routeAPI is api: UnaryCall ("checkout") calls payments, EmptyCall
// ("browse") calls catalog. It counts the calls that reach it.
type routeAPI struct {
	testpb.UnimplementedTestServiceServer
	payments, catalog testpb.TestServiceClient
	hits              atomic.Int64
}

func (a *routeAPI) UnaryCall(ctx context.Context, req *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	a.hits.Add(1)
	return a.payments.UnaryCall(ctx, req)
}

func (a *routeAPI) EmptyCall(ctx context.Context, req *testpb.Empty) (*testpb.Empty, error) {
	a.hits.Add(1)
	return a.catalog.EmptyCall(ctx, req)
}

const (
	checkout = "/grpc.testing.TestService/UnaryCall"
	browse   = "/grpc.testing.TestService/EmptyCall"
)

// startGRPC serves srv on 127.0.0.1 with opts and returns its address.
func startGRPC(t *testing.T, srv testpb.TestServiceServer, opts ...grpc.ServerOption) string {
	t.Helper()
	ts := grpc.NewServer(opts...)
	testpb.RegisterTestServiceServer(ts, srv)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go ts.Serve(lis) //nolint:errcheck // returns when the server stops
	t.Cleanup(ts.Stop)
	return lis.Addr().String()
}

// routeGRPC starts payments, catalog and api, and returns api, the breaker
// of api's client of payments, and a client of api with a route table.
func routeGRPC(t *testing.T, apiOpts ...grpc.ServerOption) (*routeAPI, string, *breaker.Breaker) {
	t.Helper()
	paymentsBreaker := breaker.New(breaker.WithName("payments"))
	api := &routeAPI{
		payments: dial(t, startGRPC(t, leaf{}), withPolicy(paymentsBreaker, grpcx.WithDependency("payments", breaker.ErrOpen))...),
		catalog:  dial(t, startGRPC(t, leaf{}), withPolicy(breaker.New(), grpcx.WithDependency("catalog", breaker.ErrOpen))...),
	}
	addr := startGRPC(t, api, append([]grpc.ServerOption{grpc.UnaryInterceptor(grpcx.UnaryServerInterceptor(nil))}, apiOpts...)...)
	return api, addr, paymentsBreaker
}

func TestRouteAvailabilityGRPC(t *testing.T) {
	api, addr, payments := routeGRPC(t)
	clock := callguardtest.NewClock()
	table := route.New(route.WithClock(clock))
	edge := dial(t, addr, append([]grpc.DialOption{grpc.WithChainUnaryInterceptor(grpcx.RouteInterceptor(table, nil))},
		withPolicy(breaker.New())...)...)
	ctx := testCtx(t)

	payments.ForceOpen()
	var trailer metadata.MD
	_, err := edge.UnaryCall(ctx, &testpb.SimpleRequest{}, grpc.Trailer(&trailer))
	if status.Code(err) != codes.Unavailable || len(trailer[grpcx.UnavailableMetadata]) != 1 || trailer[grpcx.UnavailableMetadata][0] != "payments" {
		t.Fatalf("first checkout = %v, trailer %v; want Unavailable naming payments", err, trailer)
	}
	before := api.hits.Load()
	for range 10 {
		_, err := edge.UnaryCall(ctx, &testpb.SimpleRequest{})
		if status.Code(err) != codes.Unavailable || !errors.Is(err, route.ErrUnavailable) || !errors.Is(err, callguard.ErrRejected) {
			t.Fatalf("checkout = %v, want Unavailable, refused at the edge", err)
		}
		if _, err := edge.EmptyCall(ctx, &testpb.Empty{}); err != nil {
			t.Fatalf("browse = %v, want success", err)
		}
	}
	if got := api.hits.Load() - before; got != 10 {
		t.Errorf("calls reaching api = %d, want 10 (browse only)", got)
	}

	clock.Advance(route.DefaultProbeInterval) // a probe, still refused by api
	if _, err := edge.UnaryCall(ctx, &testpb.SimpleRequest{}); status.Code(err) != codes.Unavailable || errors.Is(err, route.ErrUnavailable) {
		t.Fatalf("probe while payments is down = %v, want api's Unavailable", err)
	}
	payments.Resume()
	if _, err := edge.UnaryCall(ctx, &testpb.SimpleRequest{}); !errors.Is(err, route.ErrUnavailable) {
		t.Fatalf("checkout before the next probe = %v, want refused at the edge", err)
	}
	clock.Advance(route.DefaultProbeInterval)
	for i := range 3 {
		if _, err := edge.UnaryCall(ctx, &testpb.SimpleRequest{}); err != nil {
			t.Fatalf("checkout %d after payments is back = %v, want success", i, err)
		}
	}
}

// TestRouteWrongEntryHealsGRPC: a wrong link of browse to payments is
// dropped by browse's next probe.
func TestRouteWrongEntryHealsGRPC(t *testing.T) {
	_, addr, _ := routeGRPC(t)
	clock := callguardtest.NewClock()
	table := route.New(route.WithClock(clock))
	table.Observe(browse, "payments", time.Minute)
	edge := dial(t, addr, grpc.WithChainUnaryInterceptor(grpcx.RouteInterceptor(table, nil)))
	ctx := testCtx(t)
	if _, err := edge.EmptyCall(ctx, &testpb.Empty{}); !errors.Is(err, route.ErrUnavailable) {
		t.Fatalf("browse = %v, want refused by the wrong entry", err)
	}
	clock.Advance(route.DefaultProbeInterval)
	for i := range 3 {
		if _, err := edge.EmptyCall(ctx, &testpb.Empty{}); err != nil {
			t.Fatalf("browse %d after a probe interval = %v, want success", i, err)
		}
	}
}

// TestRouteEdgeGRPC: an Edge server names no dependency in its trailers,
// and reads none from its callers' metadata.
func TestRouteEdgeGRPC(t *testing.T) {
	_, addr, payments := routeGRPC(t)
	edgeTable := route.New()
	apiBreaker := breaker.New(breaker.WithName("api"))
	toAPI := dial(t, addr, append([]grpc.DialOption{grpc.WithChainUnaryInterceptor(grpcx.RouteInterceptor(edgeTable, nil))},
		withPolicy(apiBreaker, grpcx.WithDependency("api", breaker.ErrOpen))...)...)
	edgeAddr := startGRPC(t, &routeAPI{payments: toAPI, catalog: toAPI}, grpc.UnaryInterceptor(grpcx.UnaryServerInterceptor(nil, grpcx.Edge())))
	client := dial(t, edgeAddr)
	ctx := metadata.AppendToOutgoingContext(testCtx(t), grpcx.UnavailableMetadata, "catalog; for=30s")

	for range 3 {
		if _, err := client.EmptyCall(ctx, &testpb.Empty{}); err != nil {
			t.Fatalf("browse with an injected outage = %v, want success", err)
		}
	}
	if n := edgeTable.Len(); n != 0 {
		t.Errorf("edge's table Len = %d after injection, want 0", n)
	}
	payments.ForceOpen()
	apiBreaker.ForceOpen() // the edge's own dependency, api, is down too
	for _, call := range []func(opt grpc.CallOption) error{
		func(opt grpc.CallOption) error {
			_, err := client.UnaryCall(ctx, &testpb.SimpleRequest{}, opt)
			return err
		},
		func(opt grpc.CallOption) error { _, err := client.EmptyCall(ctx, &testpb.Empty{}, opt); return err },
	} {
		var trailer metadata.MD
		if err := call(grpc.Trailer(&trailer)); status.Code(err) != codes.Unavailable || len(trailer[grpcx.UnavailableMetadata]) != 0 {
			t.Fatalf("call at the edge = %v, trailer %v; want Unavailable naming nothing", err, trailer)
		}
	}
}

// TestRouteInterceptorAllocs: with no outage in the table, the route
// interceptor adds no allocation to a call.
func TestRouteInterceptorAllocs(t *testing.T) {
	if testing.Short() || race.Enabled {
		t.Skip("alloc guard: not with -short or -race")
	}
	ic := grpcx.RouteInterceptor(route.New(), nil)
	ctx := context.Background()
	invoker := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return nil }
	if n := testing.AllocsPerRun(100, func() { _ = ic(ctx, browse, nil, nil, nil, invoker) }); n != 0 {
		t.Errorf("RouteInterceptor allocs = %v, want 0", n)
	}
}

func BenchmarkRouteInterceptor(b *testing.B) {
	ctx := context.Background()
	invoker := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return nil }
	linked := route.New()
	linked.Observe(checkout, "payments", time.Hour) // another route is down
	for _, bm := range []struct {
		name string
		ic   grpc.UnaryClientInterceptor
	}{
		{"bare", func(ctx context.Context, m string, req, reply any, cc *grpc.ClientConn, inv grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			return inv(ctx, m, req, reply, cc, opts...)
		}},
		{"empty", grpcx.RouteInterceptor(route.New(), nil)},
		{"otherRouteDown", grpcx.RouteInterceptor(linked, nil)},
	} {
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = bm.ic(ctx, browse, nil, nil, nil, invoker)
			}
		})
	}
}

// relay is a middle tier: UnaryCall passes the call on to next and returns
// its answer or its error, as a handler does.
type relay struct {
	testpb.UnimplementedTestServiceServer
	next testpb.TestServiceClient
}

func (r relay) UnaryCall(ctx context.Context, req *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	return r.next.UnaryCall(ctx, req)
}

// TestRouteTwoHopsGRPC checks that an outage named two tiers down reaches
// the edge: api names payments down; mid passes api's error on; the edge's
// route table learns it from mid's trailer. mid's throttle towards api
// counts api's refusals as answers (accepts), not as api's load.
func TestRouteTwoHopsGRPC(t *testing.T) {
	api, apiAddr, payments := routeGRPC(t)
	throttle := loadshed.NewThrottle()
	mid := startGRPC(t, relay{next: dial(t, apiAddr, withPolicy(throttle)...)},
		grpc.UnaryInterceptor(grpcx.UnaryServerInterceptor(nil)))
	table := route.New(route.WithClock(callguardtest.NewClock()))
	edge := dial(t, mid, append([]grpc.DialOption{grpc.WithChainUnaryInterceptor(grpcx.RouteInterceptor(table, nil))},
		withPolicy(breaker.New())...)...)
	ctx := testCtx(t)

	payments.ForceOpen()
	var trailer metadata.MD
	_, err := edge.UnaryCall(ctx, &testpb.SimpleRequest{}, grpc.Trailer(&trailer))
	if status.Code(err) != codes.Unavailable || len(trailer[grpcx.UnavailableMetadata]) != 1 {
		t.Fatalf("first checkout = %v, trailer %v; want Unavailable naming payments", err, trailer)
	}
	for range 10 {
		if _, err := edge.UnaryCall(ctx, &testpb.SimpleRequest{}); !errors.Is(err, route.ErrUnavailable) {
			t.Fatalf("checkout after mid named payments down = %v, want refused at the edge", err)
		}
	}
	if n := api.hits.Load(); n != 1 {
		t.Errorf("api reached %d times, want 1 (the edge refuses the rest)", n)
	}
	if r, a := throttle.Counts(loadshed.Default); r != 1 || a != 1 {
		t.Errorf("mid's throttle counts = %d, %d; want 1, 1 (api answered: a dependency's outage is not api's load)", r, a)
	}
}

// refusing answers every call with its own client's refusal, passed on.
type refusing struct {
	testpb.UnimplementedTestServiceServer
}

func (refusing) UnaryCall(context.Context, *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	return nil, breaker.ErrOpen
}

// TestRelayedRefusalGRPC checks that a server that passes on its own
// client's refusal says "downstream", that a caller's throttle counts that
// as an accept (the server answered it) and the server's own shedding as a
// refusal, and that an Edge server does not say it.
func TestRelayedRefusalGRPC(t *testing.T) {
	shedAll := callguard.PolicyFunc(func(callguard.Handler) callguard.Handler {
		return func(context.Context, func(context.Context) error) error { return loadshed.ErrShed }
	})
	tests := []struct {
		name       string
		opts       []grpc.ServerOption
		wantReason string
		wantCounts [2]int64 // requests, accepts
	}{
		{"passed on", []grpc.ServerOption{grpc.UnaryInterceptor(grpcx.UnaryServerInterceptor(nil))}, "downstream", [2]int64{1, 1}},
		{"passed on at an edge", []grpc.ServerOption{grpc.UnaryInterceptor(grpcx.UnaryServerInterceptor(nil, grpcx.Edge()))}, "", [2]int64{1, 0}},
		{"shed by the server", []grpc.ServerOption{grpc.UnaryInterceptor(grpcx.UnaryServerInterceptor(shedAll))}, "", [2]int64{1, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			throttle := loadshed.NewThrottle()
			c := dial(t, startGRPC(t, refusing{}, tt.opts...), withPolicy(throttle)...)
			var trailer metadata.MD
			_, err := c.UnaryCall(testCtx(t), &testpb.SimpleRequest{}, grpc.Trailer(&trailer))
			var reason string
			if v := trailer["callguard-error"]; len(v) == 1 {
				reason = v[0]
			}
			if status.Code(err) != codes.Unavailable || reason != tt.wantReason {
				t.Errorf("UnaryCall = %v, callguard-error %q; want Unavailable, %q", err, reason, tt.wantReason)
			}
			if got := errors.Is(err, callguard.ErrDownstream); got != (tt.wantReason != "") {
				t.Errorf("errors.Is(%v, ErrDownstream) = %v", err, got)
			}
			if r, a := throttle.Counts(loadshed.Default); [2]int64{r, a} != tt.wantCounts {
				t.Errorf("throttle counts = %d, %d; want %v", r, a, tt.wantCounts)
			}
		})
	}
}

// slowLeaf answers every call with its own DeadlineExceeded status, as a
// server whose work timed out does.
type slowLeaf struct {
	testpb.UnimplementedTestServiceServer
}

func (slowLeaf) UnaryCall(context.Context, *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	return nil, status.Error(codes.DeadlineExceeded, "slow")
}

// TestRelayedTimeoutGRPC checks that a DeadlineExceeded that a handler
// passes on from its own call says "downstream" and does not open the
// caller's breaker, while a server's own DeadlineExceeded does.
func TestRelayedTimeoutGRPC(t *testing.T) {
	leafAddr := startGRPC(t, slowLeaf{})
	mid := startGRPC(t, relay{next: dial(t, leafAddr, withPolicy(nil)...)},
		grpc.UnaryInterceptor(grpcx.UnaryServerInterceptor(nil)))
	tests := []struct {
		name       string
		addr       string
		wantReason string
		wantState  breaker.State
	}{
		{"passed on", mid, "downstream", breaker.Closed},
		{"the server's own", leafAddr, "", breaker.Open},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cb := breaker.New()
			c := dial(t, tt.addr, withPolicy(cb)...)
			for range 10 {
				var trailer metadata.MD
				_, err := c.UnaryCall(testCtx(t), &testpb.SimpleRequest{}, grpc.Trailer(&trailer))
				if errors.Is(err, breaker.ErrOpen) {
					continue
				}
				var reason string
				if v := trailer["callguard-error"]; len(v) == 1 {
					reason = v[0]
				}
				if status.Code(err) != codes.DeadlineExceeded || reason != tt.wantReason {
					t.Errorf("UnaryCall = %v, callguard-error %q; want DeadlineExceeded, %q", err, reason, tt.wantReason)
				}
			}
			if st := cb.State(); st != tt.wantState {
				t.Errorf("breaker after 10 calls = %v, want %v", st, tt.wantState)
			}
		})
	}
}
