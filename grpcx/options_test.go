package grpcx_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/grpcx"
	"github.com/callguard/callguard/loadshed"
	"github.com/callguard/callguard/ttl"
)

// TestOptionSides checks which side each option belongs to: an option of
// one side must not be accepted by the other (a compile error, checked
// here through the interfaces).
func TestOptionSides(t *testing.T) {
	tests := []struct {
		name       string
		give       any
		wantClient bool
		wantServer bool
	}{
		{"WithClassifier", grpcx.WithClassifier(nil), true, false},
		{"WithRetryFirstMessage", grpcx.WithRetryFirstMessage(), true, false},
		{"WithDeadlineMargin", grpcx.WithDeadlineMargin(0), false, true},
		{"WithMaxDeadline", grpcx.WithMaxDeadline(0), false, true},
		{"WithMinServiceTime", grpcx.WithMinServiceTime(0), false, true},
		{"WithRequestIDs", grpcx.WithRequestIDs(), false, true},
		{"Edge", grpcx.Edge(), false, true},
		{"WithExempt", grpcx.WithExempt(nil), false, true},
		{"WithPriority", grpcx.WithPriority(nil), false, true},
		{"OnReject", grpcx.OnReject(nil), false, true},
	}
	for _, tt := range tests {
		_, gotClient := tt.give.(grpcx.ClientOption)
		_, gotServer := tt.give.(grpcx.ServerOption)
		if gotClient != tt.wantClient || gotServer != tt.wantServer {
			t.Errorf("%s() is a ClientOption: %v, a ServerOption: %v; want %v, %v",
				tt.name, gotClient, gotServer, tt.wantClient, tt.wantServer)
		}
	}
}

// TestNilPolicy checks that a nil policy means no policy on both sides,
// with propagation still on, as in httpx: the client interceptors send the
// context's hops, priority and request id, once (an Unavailable is not
// retried), and the server interceptors put them, and the deadline less
// the margin, in the handler's context.
func TestNilPolicy(t *testing.T) {
	s := new(seen)
	unavailable := status.Error(codes.Unavailable, "down")
	ts := &testServer{
		unary: func(ctx context.Context, _ int64, _ *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
			s.record(ctx)
			return nil, unavailable
		},
		output: func(_ int64, _ *testpb.StreamingOutputCallRequest, ss testpb.TestService_StreamingOutputCallServer) error {
			s.record(ss.Context())
			return unavailable
		},
	}
	addr := startServer(t, ts,
		grpc.UnaryInterceptor(grpcx.UnaryServerInterceptor(nil)),
		grpc.StreamInterceptor(grpcx.StreamServerInterceptor(nil)))
	c := dial(t, addr, grpcx.DialOptions(nil)...)

	ctx, cancel := context.WithTimeout(testCtx(t), time.Minute)
	defer cancel()
	ctx = callguard.ContextWithRequestID(loadshed.NewContext(ttl.NewContext(ctx, 5), loadshed.Critical), "r-1")
	check := func(name string, err error) {
		t.Helper()
		if status.Code(err) != codes.Unavailable || ts.calls.Load() != 1 {
			t.Errorf("%s = %v after %d calls, want Unavailable after 1", name, err, ts.calls.Load())
		}
		got := s.get()
		if got.hops != 4 || got.prio != loadshed.Critical || got.id != "r-1" || got.left <= 0 || got.left > time.Minute-grpcx.DefaultDeadlineMargin {
			t.Errorf("%s: handler saw hops %d, priority %v, id %q, deadline in %v; want 4, critical, r-1, at most %v",
				name, got.hops, got.prio, got.id, got.left, time.Minute-grpcx.DefaultDeadlineMargin)
		}
	}

	_, err := c.UnaryCall(ctx, &testpb.SimpleRequest{})
	check("UnaryCall", err)

	ts.calls.Store(0)
	*s = seen{}
	stream, err := c.StreamingOutputCall(ctx, outputRequest(1))
	if err == nil {
		_, err = stream.Recv()
	}
	check("StreamingOutputCall", err)
}
