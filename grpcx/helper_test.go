package grpcx_test

import (
	"context"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	testpb "google.golang.org/grpc/interop/grpc_testing"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/breaker"
	"github.com/callguard/callguard/bulkhead"
	"github.com/callguard/callguard/grpcx"
	"github.com/callguard/callguard/retry"
)

// testServer is grpc's interop TestService with behaviour the tests set.
// Each method counts its calls; a nil func gives the default behaviour:
// UnaryCall echoes, StreamingOutputCall sends one response per response
// parameter, StreamingInputCall sums the payload sizes, FullDuplexCall
// echoes each request.
type testServer struct {
	testpb.UnimplementedTestServiceServer

	unary  func(ctx context.Context, n int64, req *testpb.SimpleRequest) (*testpb.SimpleResponse, error)
	output func(n int64, req *testpb.StreamingOutputCallRequest, s testpb.TestService_StreamingOutputCallServer) error
	calls  atomic.Int64
}

func (ts *testServer) UnaryCall(ctx context.Context, req *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	n := ts.calls.Add(1)
	if ts.unary != nil {
		return ts.unary(ctx, n, req)
	}
	return &testpb.SimpleResponse{Payload: req.GetPayload()}, nil
}

func (ts *testServer) StreamingOutputCall(req *testpb.StreamingOutputCallRequest, s testpb.TestService_StreamingOutputCallServer) error {
	n := ts.calls.Add(1)
	if ts.output != nil {
		return ts.output(n, req, s)
	}
	return sendResponses(req, s)
}

func sendResponses(req *testpb.StreamingOutputCallRequest, s testpb.TestService_StreamingOutputCallServer) error {
	for _, p := range req.GetResponseParameters() {
		time.Sleep(time.Duration(p.GetIntervalUs()) * time.Microsecond)
		if err := s.Send(&testpb.StreamingOutputCallResponse{Payload: payload(int(p.GetSize()))}); err != nil {
			return err
		}
	}
	return nil
}

func (ts *testServer) StreamingInputCall(s testpb.TestService_StreamingInputCallServer) error {
	ts.calls.Add(1)
	var size int32
	for {
		req, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return s.SendAndClose(&testpb.StreamingInputCallResponse{AggregatedPayloadSize: size})
		}
		if err != nil {
			return err
		}
		size += int32(len(req.GetPayload().GetBody()))
	}
}

func (ts *testServer) FullDuplexCall(s testpb.TestService_FullDuplexCallServer) error {
	ts.calls.Add(1)
	for {
		req, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		for _, p := range req.GetResponseParameters() {
			if err := s.Send(&testpb.StreamingOutputCallResponse{Payload: payload(int(p.GetSize()))}); err != nil {
				return err
			}
		}
	}
}

func payload(n int) *testpb.Payload { return &testpb.Payload{Body: make([]byte, n)} }

// outputRequest asks StreamingOutputCall for responses of the given sizes.
func outputRequest(sizes ...int32) *testpb.StreamingOutputCallRequest {
	req := &testpb.StreamingOutputCallRequest{}
	for _, s := range sizes {
		req.ResponseParameters = append(req.ResponseParameters, &testpb.ResponseParameters{Size: s})
	}
	return req
}

// startServer serves ts on 127.0.0.1 and returns its address. The server
// stops when the test ends.
func startServer(t testing.TB, ts *testServer, opts ...grpc.ServerOption) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer(opts...)
	testpb.RegisterTestServiceServer(s, ts)
	go s.Serve(lis) //nolint:errcheck // returns when the server stops
	t.Cleanup(s.Stop)
	return lis.Addr().String()
}

// deadAddr returns an address on 127.0.0.1 where nothing listens.
func deadAddr(t testing.TB) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	return addr
}

// dial returns a client of addr, with gRPC's own retries off, closed when
// the test ends.
func dial(t testing.TB, addr string, opts ...grpc.DialOption) testpb.TestServiceClient {
	t.Helper()
	opts = append([]grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDisableRetry(),
	}, opts...)
	conn, err := grpc.NewClient(addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return testpb.NewTestServiceClient(conn)
}

// withPolicy returns dial options that install p in both client
// interceptors.
func withPolicy(p callguard.Policy, opts ...grpcx.ClientOption) []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithChainUnaryInterceptor(grpcx.UnaryClientInterceptor(p, opts...)),
		grpc.WithChainStreamInterceptor(grpcx.StreamClientInterceptor(p, opts...)),
	}
}

// retries returns a retry policy of n attempts that does not wait between
// them and counts its retries in *count.
func retries(n int, count *atomic.Int64) *retry.Retry {
	return retry.New(retry.WithMaxAttempts(n), retry.WithBackoff(0, 0),
		retry.OnRetry(func(context.Context, int, error, time.Duration) {
			if count != nil {
				count.Add(1)
			}
		}))
}

// standard is the client policy of the benchmarks and of most tests:
// retry, breaker, bulkhead.
func standard() callguard.Policy {
	return callguard.Chain(retries(3, nil), breaker.New(), bulkhead.New(64))
}

// testCtx returns a context that ends with the test, at the latest after
// 10 s.
func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}
