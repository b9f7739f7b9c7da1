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
		opts    []grpcx.ServerOption
		server  *testServer
		md      []string      // outgoing metadata
		timeout time.Duration // 0: none
		want    error         // nil: no report
	}{
		{"loop", func(*testing.T) callguard.Policy { return ttl.New(ttl.WithService("a")) },
			nil, &testServer{}, []string{ttl.PathMetadata, "a,b"}, 0, ttl.ErrLoop},
		{"too late", func(*testing.T) callguard.Policy { return ttl.New() },
			[]grpcx.ServerOption{grpcx.WithMinServiceTime(time.Minute)}, &testServer{}, nil, 5 * time.Second, loadshed.ErrDeadline},
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
			opts := append([]grpcx.ServerOption{grpcx.OnReject(func(ctx context.Context, method string, err error) {
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

// TestOnRejectPolicyOverrides checks the condition that an abandoned call
// races on: the handler has returned, but the policy fails the call with
// an error of its own. That error is the policy's answer in the handler's
// place, and is reported; the handler's own error passed on is not.
func TestOnRejectPolicyOverrides(t *testing.T) {
	errPolicy := errors.New("policy gave up")
	override := callguard.PolicyFunc(func(next callguard.Handler) callguard.Handler {
		return func(ctx context.Context, call func(context.Context) error) error {
			_ = next(ctx, call) // the handler runs to its end
			return errPolicy
		}
	})
	var mu sync.Mutex
	var reported []error
	c := dial(t, startServer(t, &testServer{}, serverWith(override, grpcx.OnReject(func(_ context.Context, _ string, err error) {
		mu.Lock()
		defer mu.Unlock()
		reported = append(reported, err)
	}))...))
	callBoth(t, testCtx(t), c)
	mu.Lock()
	defer mu.Unlock()
	if len(reported) != 2 || !errors.Is(reported[0], errPolicy) || !errors.Is(reported[1], errPolicy) {
		t.Errorf("OnReject got %v, want the policy's error for the unary and the streaming call", reported)
	}
}

// TestHandlerDeadlineKeepsStatus checks that a handler's own
// DeadlineExceeded keeps its message and gets no "don't retry" pushback:
// only a refusal for want of time does.
func TestHandlerDeadlineKeepsStatus(t *testing.T) {
	own := status.Error(codes.DeadlineExceeded, "the database was slow")
	ts := &testServer{
		unary: func(context.Context, int64, *testpb.SimpleRequest) (*testpb.SimpleResponse, error) { return nil, own },
		output: func(int64, *testpb.StreamingOutputCallRequest, testpb.TestService_StreamingOutputCallServer) error {
			return own
		},
	}
	c := dial(t, startServer(t, ts, serverWith(ttl.New())...))
	errs, trailers := callBoth(t, testCtx(t), c)
	for i, call := range []string{"UnaryCall", "StreamingOutputCall"} {
		if st := status.Convert(errs[i]); st.Code() != codes.DeadlineExceeded || st.Message() != "the database was slow" {
			t.Errorf("%s = %v, want the handler's status", call, errs[i])
		}
		if v := trailers[i]["grpc-retry-pushback-ms"]; len(v) != 0 {
			t.Errorf("%s: pushback %q, want none", call, v)
		}
	}
}
