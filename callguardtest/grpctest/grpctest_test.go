package grpctest_test

import (
	"context"
	"errors"
	"runtime"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/callguardtest"
	"github.com/callguard/callguard/callguardtest/grpctest"
	"github.com/callguard/callguard/grpcx"
	"github.com/callguard/callguard/retry"
	"github.com/callguard/callguard/stack"
)

func registerHealth(s *grpc.Server) { healthpb.RegisterHealthServer(s, health.NewServer()) }

func check(ctx context.Context, conn *grpc.ClientConn, opts ...grpc.CallOption) error {
	_, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}, opts...)
	return err
}

func TestFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		give         callguardtest.Fault
		wantCode     codes.Code
		wantPushback string
	}{
		{callguardtest.Serve, codes.OK, ""},
		{callguardtest.Fail, codes.Internal, ""},
		{callguardtest.Unavailable, codes.Unavailable, ""},
		{callguardtest.Reset, codes.Unavailable, ""},
		{callguardtest.Shed, codes.Unavailable, "-1"},
	}
	for _, tt := range tests {
		t.Run(tt.give.String(), func(t *testing.T) {
			s := grpctest.NewServer(t, registerHealth, callguardtest.Always(tt.give))
			conn := s.Dial(t)
			var trailer metadata.MD
			err := check(context.Background(), conn, grpc.Trailer(&trailer))
			if got := status.Code(err); got != tt.wantCode {
				t.Errorf("Check = %v, want %v", err, tt.wantCode)
			}
			if got := trailer.Get("grpc-retry-pushback-ms"); (len(got) > 0 && got[0] != tt.wantPushback) || (len(got) == 0) != (tt.wantPushback == "") {
				t.Errorf("pushback trailer = %q, want %q", got, tt.wantPushback)
			}
			if s.Requests() != 1 {
				t.Errorf("Requests() = %d, want 1", s.Requests())
			}
		})
	}
}

func TestStream(t *testing.T) {
	t.Parallel()
	s := grpctest.NewServer(t, registerHealth, callguardtest.First(1, callguardtest.Shed))
	conn := s.Dial(t)
	st, err := healthpb.NewHealthClient(conn).Watch(context.Background(), &healthpb.HealthCheckRequest{})
	if err == nil {
		_, err = st.Recv()
	}
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("Watch = %v, want Unavailable", err)
	}
	if got := st.Trailer().Get("grpc-retry-pushback-ms"); len(got) != 1 || got[0] != "-1" {
		t.Errorf("stream pushback trailer = %q, want [-1]", got)
	}
	if s.Requests() != 1 || s.Served() != 0 {
		t.Errorf("Requests, Served = %d, %d, want 1, 0", s.Requests(), s.Served())
	}
}

// TestWithStack: the client stack retries an outage, and does not retry a
// server that sheds.
func TestWithStack(t *testing.T) {
	t.Parallel()
	out := stack.Client(stack.WithRetry(retry.WithBackoff(0, 0)))
	down := grpctest.NewServer(t, registerHealth, callguardtest.First(2, callguardtest.Unavailable))
	if err := check(context.Background(), down.Dial(t, grpcx.DialOptions(out)...)); err != nil || down.Requests() != 3 {
		t.Errorf("Check = %v after %d calls, want nil after 3", err, down.Requests())
	}
	shed := grpctest.NewServer(t, registerHealth, callguardtest.Always(callguardtest.Shed))
	err := check(context.Background(), shed.Dial(t, grpcx.DialOptions(out)...))
	if !errors.Is(err, callguard.ErrOverloaded) || shed.Requests() != 1 {
		t.Errorf("Check = %v after %d calls, want ErrOverloaded after 1 (not retried)", err, shed.Requests())
	}
}

func TestHang(t *testing.T) {
	t.Parallel()
	s := grpctest.NewServer(t, registerHealth, callguardtest.Always(callguardtest.Hang))
	conn := s.Dial(t)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- check(ctx, conn) }()
	for s.Requests() == 0 { // the call has reached the server
		runtime.Gosched()
	}
	cancel()
	if err := <-errc; status.Code(err) != codes.Canceled {
		t.Errorf("Check = %v, want Canceled", err)
	}
}
