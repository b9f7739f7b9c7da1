package grpcx_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
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
	"github.com/callguard/callguard/bulkhead"
	"github.com/callguard/callguard/grpcx"
	"github.com/callguard/callguard/timeout"
)

// refusal is a loop or hop refusal, as ttl's errors are.
type refusal string

func (r refusal) Error() string          { return "refused: " + string(r) }
func (r refusal) Permanent() bool        { return true }
func (r refusal) CallguardError() string { return string(r) }

func TestServerStatusMapping(t *testing.T) {
	tests := []struct {
		giveErr      error
		wantCode     codes.Code
		wantPushback string // "" for none
		wantRefusal  string
	}{
		// A handler's overloaded error comes from its own calls: whatever
		// its delay, no tier above may retry (as httpx.Error), and the
		// answer says "downstream", not this server's load.
		{bulkhead.ErrFull, codes.Unavailable, "-1", "downstream"},
		{breaker.ErrOpen, codes.Unavailable, "-1", "downstream"},
		{callguard.ErrOverloaded, codes.Unavailable, "-1", "downstream"},
		{callguard.Overloaded(250*time.Millisecond, nil), codes.Unavailable, "-1", "downstream"},
		{fmt.Errorf("downstream: %w", callguard.Overloaded(0, nil)), codes.Unavailable, "-1", "downstream"},
		// A handler's timeout comes from its own calls: "downstream", not
		// this server's fault (as httpx.Error).
		{timeout.ErrTimeout, codes.DeadlineExceeded, "", "downstream"},
		{context.DeadlineExceeded, codes.DeadlineExceeded, "", "downstream"},
		{context.Canceled, codes.Canceled, "", ""},
		{refusal("loop"), codes.FailedPrecondition, "", "loop"},
		{refusal("hops"), codes.FailedPrecondition, "", "hops"},
		{status.Error(codes.NotFound, "no such thing"), codes.NotFound, "", ""},
		{status.Error(codes.Unavailable, "plain"), codes.Unavailable, "", ""},
		{errors.New("plain"), codes.Unknown, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.giveErr.Error(), func(t *testing.T) {
			ts := &testServer{
				unary: func(context.Context, int64, *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
					return nil, tt.giveErr
				},
				output: func(int64, *testpb.StreamingOutputCallRequest, testpb.TestService_StreamingOutputCallServer) error {
					return tt.giveErr
				},
			}
			addr := startServer(t, ts,
				grpc.UnaryInterceptor(grpcx.UnaryServerInterceptor(bulkhead.New(8))),
				grpc.StreamInterceptor(grpcx.StreamServerInterceptor(bulkhead.New(8))))
			c := dial(t, addr)
			ctx := testCtx(t)

			var trailer metadata.MD
			_, err := c.UnaryCall(ctx, &testpb.SimpleRequest{}, grpc.Trailer(&trailer))
			checkMapped(t, "UnaryCall", err, trailer, tt.wantCode, tt.wantPushback, tt.wantRefusal)

			s, err := c.StreamingOutputCall(ctx, outputRequest(1))
			if err != nil {
				t.Fatal(err)
			}
			_, err = s.Recv()
			checkMapped(t, "StreamingOutputCall", err, s.Trailer(), tt.wantCode, tt.wantPushback, tt.wantRefusal)
		})
	}
}

func checkMapped(t *testing.T, call string, err error, trailer metadata.MD, code codes.Code, pushback, refusal string) {
	t.Helper()
	if got := status.Code(err); got != code {
		t.Errorf("%s = %v, want %v", call, err, code)
	}
	if got := first(trailer["grpc-retry-pushback-ms"]); got != pushback {
		t.Errorf("%s: grpc-retry-pushback-ms = %q, want %q", call, got, pushback)
	}
	if got := first(trailer["callguard-error"]); got != refusal {
		t.Errorf("%s: callguard-error = %q, want %q", call, got, refusal)
	}
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// TestServerShedsWithPushback runs a real server-side bulkhead that is
// full: the server answers Unavailable with pushback -1, and a client with
// callguard does not retry it.
func TestServerShedsWithPushback(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{})
	ts := &testServer{unary: func(ctx context.Context, n int64, _ *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
		if n == 1 {
			close(started)
			<-release
		}
		return &testpb.SimpleResponse{}, nil
	}}
	addr := startServer(t, ts, grpc.UnaryInterceptor(grpcx.UnaryServerInterceptor(bulkhead.New(1))))
	var retried atomic.Int64
	c := dial(t, addr, withPolicy(retries(3, &retried))...)
	ctx := testCtx(t)
	done := make(chan error)
	go func() {
		_, err := c.UnaryCall(ctx, &testpb.SimpleRequest{})
		done <- err
	}()
	<-started
	var trailer metadata.MD
	_, err := c.UnaryCall(ctx, &testpb.SimpleRequest{}, grpc.Trailer(&trailer))
	close(release)
	if err := <-done; err != nil {
		t.Errorf("first UnaryCall = %v", err)
	}
	if status.Code(err) != codes.Unavailable || !errors.Is(err, callguard.ErrOverloaded) {
		t.Errorf("UnaryCall = %v, want Unavailable, overloaded", err)
	}
	if got := first(trailer["grpc-retry-pushback-ms"]); got != "-1" || retried.Load() != 0 {
		t.Errorf("pushback %q, %d retries, want -1, 0", got, retried.Load())
	}
	if n := ts.calls.Load(); n != 1 {
		t.Errorf("handler calls = %d, want 1", n)
	}
}

func TestServerTimeout(t *testing.T) {
	ts := &testServer{unary: func(ctx context.Context, _ int64, _ *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}}
	addr := startServer(t, ts, grpc.UnaryInterceptor(grpcx.UnaryServerInterceptor(timeout.New(20*time.Millisecond))))
	_, err := dial(t, addr).UnaryCall(testCtx(t), &testpb.SimpleRequest{})
	if status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("UnaryCall = %v, want DeadlineExceeded", err)
	}
}

// TestServerStreamContext checks that a stream handler sees the policy's
// context: the server's 1 s timeout, not the caller's 10 s deadline.
func TestServerStreamContext(t *testing.T) {
	var deadline atomic.Bool
	ts := &testServer{output: func(_ int64, req *testpb.StreamingOutputCallRequest, s testpb.TestService_StreamingOutputCallServer) error {
		dl, ok := s.Context().Deadline()
		deadline.Store(ok && time.Until(dl) <= time.Second)
		return sendResponses(req, s)
	}}
	addr := startServer(t, ts, grpc.StreamInterceptor(grpcx.StreamServerInterceptor(timeout.New(time.Second))))
	s, err := dial(t, addr).StreamingOutputCall(testCtx(t), outputRequest(1, 2))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := recvAll(s); n != 2 || err != nil {
		t.Errorf("received %d messages, %v, want 2, nil", n, err)
	}
	if !deadline.Load() {
		t.Error("the handler's stream context does not have the policy's 1 s deadline")
	}
}

// TestServerAbandonedHandler runs a handler that a timeout abandons: its
// late response must not reach a later call.
func TestServerAbandonedHandler(t *testing.T) {
	in := grpcx.UnaryServerInterceptor(timeout.New(10*time.Millisecond, timeout.WithAbandon()))
	late := make(chan struct{})
	lateDone := make(chan struct{})
	slow := func(context.Context, any) (any, error) {
		<-late
		defer close(lateDone)
		return "late", nil
	}
	ctx := testCtx(t)
	if _, err := in(ctx, nil, &grpc.UnaryServerInfo{}, slow); status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("abandoned call = %v, want DeadlineExceeded", err)
	}
	for i := 0; i < 100; i++ {
		resp, err := in(ctx, nil, &grpc.UnaryServerInfo{}, func(context.Context, any) (any, error) {
			if i == 0 {
				close(late)
				<-lateDone
			}
			return i, nil
		})
		if resp != i || err != nil {
			t.Fatalf("call %d = %v, %v, want %d", i, resp, err, i)
		}
	}
}

// twice is a server policy that runs the call a second time whatever the
// first run returned.
var twice = callguard.PolicyFunc(func(next callguard.Handler) callguard.Handler {
	return func(ctx context.Context, call func(context.Context) error) error {
		next(ctx, call)
		return next(ctx, call)
	}
})

func TestServerStreamRunsOnce(t *testing.T) {
	ts := &testServer{}
	addr := startServer(t, ts, grpc.StreamInterceptor(grpcx.StreamServerInterceptor(twice)))
	s, err := dial(t, addr).StreamingOutputCall(testCtx(t), outputRequest(1))
	if err != nil {
		t.Fatal(err)
	}
	n, err := recvAll(s)
	if n != 1 || err != nil || ts.calls.Load() != 1 {
		t.Errorf("received %d messages, %v, handler ran %d times; want 1, nil, once", n, err, ts.calls.Load())
	}
}

// repeat runs next up to three times while it fails: a retry of the user's
// own making, which CheckServer cannot see.
var repeat = callguard.PolicyFunc(func(next callguard.Handler) callguard.Handler {
	return func(ctx context.Context, call func(context.Context) error) (err error) {
		for range 3 {
			if err = next(ctx, call); err == nil {
				return nil
			}
		}
		return err
	}
})

// TestServerRefusesRetry checks that a retry policy in a server pipeline is
// refused when the interceptor is built.
func TestServerRefusesRetry(t *testing.T) {
	defer func() {
		if r, _ := recover().(string); !strings.Contains(r, "retry") || !strings.Contains(r, "server") {
			t.Errorf("UnaryServerInterceptor(retry) panicked with %q, want a message naming the retry in a server pipeline", r)
		}
	}()
	grpcx.UnaryServerInterceptor(retries(3, nil))
}

// TestServerUnaryRunsOnce checks that a policy that calls next again does
// not run a unary handler again, and that the call gets the handler's
// answer.
func TestServerUnaryRunsOnce(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name     string
		give     callguard.Policy
		giveErr  error
		wantCode codes.Code
		wantMsg  string
	}{
		{"repeat, plain error", repeat, boom, codes.Unknown, "boom"},
		{"repeat, unavailable", repeat, status.Error(codes.Unavailable, "busy"), codes.Unavailable, "busy"},
		{"twice, success", twice, nil, codes.OK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := &testServer{unary: func(context.Context, int64, *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
				if tt.giveErr != nil {
					return nil, tt.giveErr
				}
				return &testpb.SimpleResponse{}, nil
			}}
			addr := startServer(t, ts, grpc.UnaryInterceptor(grpcx.UnaryServerInterceptor(tt.give)))
			_, err := dial(t, addr).UnaryCall(testCtx(t), &testpb.SimpleRequest{})
			if st, _ := status.FromError(err); st.Code() != tt.wantCode || st.Message() != tt.wantMsg || ts.calls.Load() != 1 {
				t.Errorf("UnaryCall = %v, handler ran %d times; want %v %q, once", err, ts.calls.Load(), tt.wantCode, tt.wantMsg)
			}
		})
	}
}
