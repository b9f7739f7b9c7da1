package grpcx_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/grpcx"
	"github.com/callguard/callguard/loadshed"
	"github.com/callguard/callguard/timeout"
	"github.com/callguard/callguard/ttl"
)

// TestOnReject checks that a real server reports each call that its
// interceptors fail in the handler's place, unary and streaming, with the
// call's request id, and no call that the handler answers.
func TestOnReject(t *testing.T) {
	failing := &testServer{
		unary: func(context.Context, int64, *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
			return nil, status.Error(codes.Internal, "handler failed")
		},
		output: func(int64, *testpb.StreamingOutputCallRequest, testpb.TestService_StreamingOutputCallServer) error {
			return status.Error(codes.Internal, "handler failed")
		},
	}
	tests := []struct {
		name    string
		policy  func(t *testing.T) callguard.Policy
		opts    []grpcx.Option
		server  *testServer
		md      []string      // outgoing metadata
		timeout time.Duration // 0: none
		want    error         // nil: no report
	}{
		{"loop", func(*testing.T) callguard.Policy { return ttl.New(ttl.WithService("a")) },
			nil, &testServer{}, []string{ttl.PathMetadata, "a,b"}, 0, ttl.ErrLoop},
		{"too late", func(*testing.T) callguard.Policy { return ttl.New() },
			[]grpcx.Option{grpcx.WithMinServiceTime(time.Minute)}, &testServer{}, nil, 5 * time.Second, loadshed.ErrDeadline},
		{"shed", func(t *testing.T) callguard.Policy { return heldLimiter(t, 4) }, nil, &testServer{}, nil, 0, loadshed.ErrShed},
		{"handler's own error", func(*testing.T) callguard.Policy { return ttl.New() }, nil, failing, nil, 0, nil},
		{"served", func(*testing.T) callguard.Policy { return ttl.New() }, nil, &testServer{}, nil, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var (
				mu      sync.Mutex
				reports []string
			)
			opts := append([]grpcx.Option{grpcx.OnReject(func(ctx context.Context, method string, err error) {
				mu.Lock()
				defer mu.Unlock()
				var rid *callguard.RequestIDError
				ok := errors.Is(err, tt.want) && errors.As(err, &rid) && rid.ID == "req-7" && strings.Contains(err.Error(), "req-7")
				reports = append(reports, fmt.Sprintf("%s %s %v", method, callguard.RequestIDFromContext(ctx), ok))
			})}, tt.opts...)
			c := dial(t, startServer(t, tt.server, serverWith(tt.policy(t), opts...)...))
			ctx := metadata.AppendToOutgoingContext(testCtx(t), append([]string{"x-request-id", "req-7"}, tt.md...)...)
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			callBoth(t, ctx, c)

			mu.Lock()
			defer mu.Unlock()
			want := ""
			if tt.want != nil {
				want = "/grpc.testing.TestService/UnaryCall req-7 true /grpc.testing.TestService/StreamingOutputCall req-7 true"
			}
			if got := strings.Join(reports, " "); got != want {
				t.Errorf("OnReject reports %q, want %q", got, want)
			}
		})
	}
}

// TestOnRejectAbandoned checks that a call that a policy gives up on while
// the handler still runs (timeout.WithAbandon) is reported as the policy's
// failure.
func TestOnRejectAbandoned(t *testing.T) {
	release := make(chan struct{})
	ts := &testServer{unary: func(context.Context, int64, *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
		<-release // ignores its context, as a careless handler does
		return &testpb.SimpleResponse{}, nil
	}}
	var reported atomic.Value
	p := timeout.New(10*time.Millisecond, timeout.WithAbandon())
	c := dial(t, startServer(t, ts, serverWith(p, grpcx.OnReject(func(_ context.Context, _ string, err error) {
		reported.Store(err)
	}))...))
	_, err := c.UnaryCall(testCtx(t), &testpb.SimpleRequest{})
	close(release)
	if status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("UnaryCall = %v, want DeadlineExceeded", err)
	}
	if got, _ := reported.Load().(error); !errors.Is(got, timeout.ErrTimeout) {
		t.Errorf("OnReject got %v, want a timeout", got)
	}
}
