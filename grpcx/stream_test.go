package grpcx_test

import (
	"context"
	"errors"
	"io"
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

var _ grpc.StreamClientInterceptor = grpcx.StreamClientInterceptor(callguard.Chain())

// recvAll receives until the stream ends and returns the number of
// messages and the final error, nil for io.EOF.
func recvAll(s testpb.TestService_StreamingOutputCallClient) (int, error) {
	for n := 0; ; n++ {
		if _, err := s.Recv(); err != nil {
			if errors.Is(err, io.EOF) {
				return n, nil
			}
			return n, err
		}
	}
}

// TestStreams runs each kind of stream through both interceptors, with a
// per-attempt timeout shorter than the streams last: the timeout bounds the
// opening of a stream, not its life.
func TestStreams(t *testing.T) {
	ts := &testServer{}
	server := callguard.Chain(bulkhead.New(8), timeout.New(5*time.Second))
	addr := startServer(t, ts,
		grpc.UnaryInterceptor(grpcx.UnaryServerInterceptor(server)),
		grpc.StreamInterceptor(grpcx.StreamServerInterceptor(server)))
	client := callguard.Chain(standard(), timeout.New(50*time.Millisecond))
	for _, name := range []string{"plain", "retry first message"} {
		t.Run(name, func(t *testing.T) {
			var opts []grpcx.ClientOption
			if name != "plain" {
				opts = append(opts, grpcx.WithRetryFirstMessage())
			}
			c := dial(t, addr, withPolicy(client, opts...)...)
			ctx := testCtx(t)
			const pause = 80 * time.Millisecond

			t.Run("server streaming", func(t *testing.T) {
				req := outputRequest(1, 2, 3)
				req.ResponseParameters[2].IntervalUs = int32(pause / time.Microsecond)
				s, err := c.StreamingOutputCall(ctx, req)
				if err != nil {
					t.Fatal(err)
				}
				if n, err := recvAll(s); n != 3 || err != nil {
					t.Errorf("received %d, %v, want 3, nil", n, err)
				}
			})
			t.Run("client streaming", func(t *testing.T) {
				s, err := c.StreamingInputCall(ctx)
				if err != nil {
					t.Fatal(err)
				}
				for i := 1; i <= 3; i++ {
					time.Sleep(pause / 2)
					if err := s.Send(&testpb.StreamingInputCallRequest{Payload: payload(i)}); err != nil {
						t.Fatal(err)
					}
				}
				resp, err := s.CloseAndRecv()
				if err != nil || resp.GetAggregatedPayloadSize() != 6 {
					t.Errorf("CloseAndRecv = %v, %v, want size 6", resp, err)
				}
			})
			t.Run("bidi", func(t *testing.T) {
				s, err := c.FullDuplexCall(ctx)
				if err != nil {
					t.Fatal(err)
				}
				for i := 1; i <= 2; i++ {
					if err := s.Send(outputRequest(int32(i))); err != nil {
						t.Fatal(err)
					}
					resp, err := s.Recv()
					if err != nil || len(resp.GetPayload().GetBody()) != i {
						t.Fatalf("Recv = %v, %v, want a %d-byte payload", resp, err, i)
					}
					time.Sleep(pause)
				}
				s.CloseSend()
				if _, err := s.Recv(); !errors.Is(err, io.EOF) {
					t.Errorf("Recv after CloseSend = %v, want io.EOF", err)
				}
			})
		})
	}
}

// failOpening returns a stream interceptor, to chain after grpcx's, that
// fails the first n openings with Unavailable, as gRPC does when it has no
// connection, and counts the openings.
func failOpening(n int64, count *atomic.Int64) grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		if count.Add(1) <= n {
			return nil, status.Error(codes.Unavailable, "no connection")
		}
		return streamer(ctx, desc, cc, method, opts...)
	}
}

func TestStreamOpeningRetried(t *testing.T) {
	ts := &testServer{}
	var retried, opened atomic.Int64
	c := dial(t, startServer(t, ts), grpc.WithChainStreamInterceptor(
		grpcx.StreamClientInterceptor(retries(3, &retried)), failOpening(2, &opened)))
	s, err := c.StreamingOutputCall(testCtx(t), outputRequest(1, 1))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := recvAll(s); n != 2 || err != nil {
		t.Errorf("received %d, %v, want 2, nil", n, err)
	}
	if o, r, c := opened.Load(), retried.Load(), ts.calls.Load(); o != 3 || r != 2 || c != 1 {
		t.Errorf("openings, retries, server calls = %d, %d, %d, want 3, 2, 1", o, r, c)
	}
}

func TestStreamOpeningFails(t *testing.T) {
	var opened atomic.Int64
	cb := breaker.New(breaker.WithConsecutiveFailures(2))
	c := dial(t, startServer(t, &testServer{}), grpc.WithChainStreamInterceptor(
		grpcx.StreamClientInterceptor(callguard.Chain(retries(2, nil), cb)), failOpening(100, &opened)))
	ctx := testCtx(t)
	_, err := c.StreamingOutputCall(ctx, outputRequest(1))
	if status.Code(err) != codes.Unavailable || errors.Is(err, breaker.ErrOpen) {
		t.Errorf("first StreamingOutputCall = %v, want Unavailable from the server side", err)
	}
	_, err = c.StreamingOutputCall(ctx, outputRequest(1))
	if status.Code(err) != codes.Unavailable || !errors.Is(err, breaker.ErrOpen) {
		t.Errorf("second StreamingOutputCall = %v, want Unavailable, breaker.ErrOpen", err)
	}
	if n := opened.Load(); n != 2 {
		t.Errorf("openings = %d, want 2", n)
	}
}

// unavailableFirst returns a StreamingOutputCall behaviour that fails the
// first n calls with Unavailable and the trailer md before sending anything.
func unavailableFirst(n int64, md metadata.MD) func(int64, *testpb.StreamingOutputCallRequest, testpb.TestService_StreamingOutputCallServer) error {
	return func(call int64, req *testpb.StreamingOutputCallRequest, s testpb.TestService_StreamingOutputCallServer) error {
		if call <= n {
			s.SetTrailer(md)
			return status.Error(codes.Unavailable, "not now")
		}
		return sendResponses(req, s)
	}
}

func TestRetryFirstMessage(t *testing.T) {
	tests := []struct {
		name       string
		giveOpts   []grpcx.ClientOption
		giveFail   int64
		giveMD     metadata.MD
		giveSizes  []int32
		wantCalls  int64
		wantN      int
		wantCode   codes.Code
		wantRetrie int64
	}{
		{"off", nil, 2, nil, []int32{1, 2}, 1, 0, codes.Unavailable, 0},
		{"on", []grpcx.ClientOption{grpcx.WithRetryFirstMessage()}, 2, nil, []int32{1, 2}, 3, 2, codes.OK, 2},
		{"on, all fail", []grpcx.ClientOption{grpcx.WithRetryFirstMessage()}, 100, nil, []int32{1}, 3, 0, codes.Unavailable, 2},
		{"on, do not retry", []grpcx.ClientOption{grpcx.WithRetryFirstMessage()}, 2, metadata.Pairs("grpc-retry-pushback-ms", "-1"), []int32{1}, 1, 0, codes.Unavailable, 0},
		{"on, empty stream", []grpcx.ClientOption{grpcx.WithRetryFirstMessage()}, 0, nil, nil, 1, 0, codes.OK, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := &testServer{output: unavailableFirst(tt.giveFail, tt.giveMD)}
			var retried atomic.Int64
			c := dial(t, startServer(t, ts), withPolicy(retries(3, &retried), tt.giveOpts...)...)
			s, err := c.StreamingOutputCall(testCtx(t), outputRequest(tt.giveSizes...))
			if err != nil {
				t.Fatal(err)
			}
			n, err := recvAll(s)
			if n != tt.wantN || status.Code(err) != tt.wantCode {
				t.Errorf("received %d, %v, want %d, %v", n, err, tt.wantN, tt.wantCode)
			}
			if c, r := ts.calls.Load(), retried.Load(); c != tt.wantCalls || r != tt.wantRetrie {
				t.Errorf("server calls, retries = %d, %d, want %d, %d", c, r, tt.wantCalls, tt.wantRetrie)
			}
		})
	}
}

// TestRetryFirstMessageTimeout checks that a per-attempt timeout bounds the
// wait for the first response, the first attempt's included.
func TestRetryFirstMessageTimeout(t *testing.T) {
	ts := &testServer{output: func(call int64, req *testpb.StreamingOutputCallRequest, s testpb.TestService_StreamingOutputCallServer) error {
		if call == 1 {
			<-s.Context().Done() // hang until the client gives up on this attempt
			return s.Context().Err()
		}
		return sendResponses(req, s)
	}}
	policy := callguard.Chain(retries(3, nil), timeout.New(100*time.Millisecond))
	c := dial(t, startServer(t, ts), withPolicy(policy, grpcx.WithRetryFirstMessage())...)
	s, err := c.StreamingOutputCall(testCtx(t), outputRequest(1, 2))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := recvAll(s); n != 2 || err != nil {
		t.Errorf("received %d, %v, want 2, nil", n, err)
	}
	if n := ts.calls.Load(); n < 2 {
		t.Errorf("server calls = %d, want at least 2", n)
	}
}

// TestDeliveredStreamNotRetried checks that a stream that failed after a
// response is never retried, even with WithRetryFirstMessage.
func TestDeliveredStreamNotRetried(t *testing.T) {
	ts := &testServer{output: func(_ int64, _ *testpb.StreamingOutputCallRequest, s testpb.TestService_StreamingOutputCallServer) error {
		if err := s.Send(&testpb.StreamingOutputCallResponse{}); err != nil {
			return err
		}
		return status.Error(codes.Unavailable, "gone")
	}}
	var retried atomic.Int64
	c := dial(t, startServer(t, ts), withPolicy(retries(3, &retried), grpcx.WithRetryFirstMessage())...)
	s, err := c.StreamingOutputCall(testCtx(t), outputRequest())
	if err != nil {
		t.Fatal(err)
	}
	n, err := recvAll(s)
	if n != 1 || status.Code(err) != codes.Unavailable {
		t.Errorf("received %d, %v, want 1, Unavailable", n, err)
	}
	if c, r := ts.calls.Load(), retried.Load(); c != 1 || r != 0 {
		t.Errorf("server calls, retries = %d, %d, want 1, 0", c, r)
	}
}

func TestStreamServerSheds(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{})
	ts := &testServer{output: func(call int64, req *testpb.StreamingOutputCallRequest, s testpb.TestService_StreamingOutputCallServer) error {
		if call == 1 {
			close(started)
			<-release
		}
		return sendResponses(req, s)
	}}
	addr := startServer(t, ts, grpc.StreamInterceptor(grpcx.StreamServerInterceptor(bulkhead.New(1))))
	var retried atomic.Int64
	c := dial(t, addr, withPolicy(retries(3, &retried), grpcx.WithRetryFirstMessage())...)
	ctx := testCtx(t)
	s1, err := c.StreamingOutputCall(ctx, outputRequest(1))
	if err != nil {
		t.Fatal(err)
	}
	<-started
	s2, err := c.StreamingOutputCall(ctx, outputRequest(1))
	if err != nil {
		t.Fatal(err)
	}
	_, err = s2.Recv()
	close(release)
	if status.Code(err) != codes.Unavailable || !errors.Is(err, callguard.ErrOverloaded) || retried.Load() != 0 {
		t.Errorf("Recv = %v after %d retries, want Unavailable, overloaded, no retry", err, retried.Load())
	}
	if got := first(s2.Trailer()["grpc-retry-pushback-ms"]); got != "-1" {
		t.Errorf("grpc-retry-pushback-ms = %q, want -1", got)
	}
	if n, err := recvAll(s1); n != 1 || err != nil {
		t.Errorf("first stream: received %d, %v, want 1, nil", n, err)
	}
}

// TestStreamContext checks that a stream opened under a per-attempt timeout
// carries the caller's deadline to the server, and the metadata a policy
// added to the attempt's context.
func TestStreamContext(t *testing.T) {
	var left atomic.Int64
	var tagged atomic.Bool
	ts := &testServer{output: func(_ int64, req *testpb.StreamingOutputCallRequest, s testpb.TestService_StreamingOutputCallServer) error {
		if d, ok := s.Context().Deadline(); ok {
			left.Store(int64(time.Until(d)))
		}
		md, _ := metadata.FromIncomingContext(s.Context())
		tagged.Store(len(md.Get("x-attempt")) == 1)
		return sendResponses(req, s)
	}}
	tag := callguard.PolicyFunc(func(next callguard.Handler) callguard.Handler {
		return func(ctx context.Context, call func(context.Context) error) error {
			return next(metadata.AppendToOutgoingContext(ctx, "x-attempt", "1"), call)
		}
	})
	policy := callguard.Chain(retries(3, nil), tag, timeout.New(50*time.Millisecond))
	c := dial(t, startServer(t, ts), withPolicy(policy)...)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := c.StreamingOutputCall(ctx, outputRequest(1))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := recvAll(s); n != 1 || err != nil {
		t.Errorf("received %d, %v, want 1, nil", n, err)
	}
	if got := time.Duration(left.Load()); got < 4*time.Second || got > 5*time.Second {
		t.Errorf("deadline at the server in %v, want the caller's 5s", got)
	}
	if !tagged.Load() {
		t.Error("the server did not get the metadata the policy added")
	}
}
