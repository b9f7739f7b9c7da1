package grpcx_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"
	testpb "google.golang.org/grpc/interop/grpc_testing"

	"github.com/callguard/callguard/bulkhead"
	"github.com/callguard/callguard/grpcx"
	"github.com/callguard/callguard/internal/race"
)

// The loopback benchmarks make the same call over a real connection to a
// server on 127.0.0.1, with no interceptor and with the client interceptor
// and the standard policy (retry, breaker, bulkhead).

func BenchmarkBareUnary(b *testing.B) {
	benchUnary(b, dial(b, startServer(b, &testServer{})))
}

func BenchmarkUnaryInterceptor(b *testing.B) {
	in := grpcx.UnaryClientInterceptor(standard())
	benchUnary(b, dial(b, startServer(b, &testServer{}), grpc.WithUnaryInterceptor(in)))
}

func benchUnary(b *testing.B, c testpb.TestServiceClient) {
	ctx := context.Background()
	req := &testpb.SimpleRequest{Payload: payload(16)}
	if _, err := c.UnaryCall(ctx, req); err != nil { // connect
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.UnaryCall(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

func noopInvoker(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
	return nil
}

func noopHandler(context.Context, any) (any, error) { return nil, nil }

// BenchmarkUnaryInterceptorOnly measures the client interceptor and the
// standard policy around an invoker that does nothing.
func BenchmarkUnaryInterceptorOnly(b *testing.B) {
	in := grpcx.UnaryClientInterceptor(standard())
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := in(ctx, "/grpc.testing.TestService/UnaryCall", nil, nil, nil, noopInvoker); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkServerInterceptorOnly measures the server interceptor with a
// bulkhead around a handler that does nothing.
func BenchmarkServerInterceptorOnly(b *testing.B) {
	in := grpcx.UnaryServerInterceptor(bulkhead.New(64))
	ctx := context.Background()
	info := &grpc.UnaryServerInfo{FullMethod: "/grpc.testing.TestService/UnaryCall"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := in(ctx, nil, info, noopHandler); err != nil {
			b.Fatal(err)
		}
	}
}

func TestUnaryInterceptorAllocs(t *testing.T) {
	if testing.Short() || race.Enabled {
		t.Skip("allocation counts need a build without -race")
	}
	in := grpcx.UnaryClientInterceptor(standard())
	ctx := context.Background()
	n := testing.AllocsPerRun(100, func() {
		in(ctx, "/grpc.testing.TestService/UnaryCall", nil, nil, nil, noopInvoker)
	})
	// 1 for the attempt closure, 2 for the outgoing metadata (hops alone:
	// a shared MD, the context's value and the context).
	if n > 3 {
		t.Errorf("UnaryClientInterceptor allocs = %v, want <= 3", n)
	}
}

func TestServerInterceptorAllocs(t *testing.T) {
	if testing.Short() || race.Enabled {
		t.Skip("allocation counts need a build without -race")
	}
	in := grpcx.UnaryServerInterceptor(bulkhead.New(64))
	info := &grpc.UnaryServerInfo{}
	withDeadline, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	tests := []struct {
		name string
		ctx  context.Context
		want float64
	}{
		// 1 for the closure; a call without callguard metadata carries no
		// hop state (ttl.Inbound allocates only for one that does).
		{"no deadline", context.Background(), 1},
		// and 4 for context.WithDeadline: the default margin moves it.
		{"deadline", withDeadline, 5},
	}
	for _, tt := range tests {
		n := testing.AllocsPerRun(100, func() { in(tt.ctx, nil, info, noopHandler) })
		if n > tt.want {
			t.Errorf("%s: UnaryServerInterceptor allocs = %v, want <= %v", tt.name, n, tt.want)
		}
	}
}
