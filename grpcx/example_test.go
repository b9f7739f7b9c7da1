package grpcx_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/breaker"
	"github.com/callguard/callguard/bulkhead"
	"github.com/callguard/callguard/grpcx"
	"github.com/callguard/callguard/retry"
	"github.com/callguard/callguard/timeout"
)

// flaky fails its first call with Unavailable.
type flaky struct {
	testpb.UnimplementedTestServiceServer
	calls atomic.Int64
}

func (f *flaky) UnaryCall(context.Context, *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	if f.calls.Add(1) == 1 {
		return nil, status.Error(codes.Unavailable, "warming up")
	}
	return &testpb.SimpleResponse{}, nil
}

// serve serves s on 127.0.0.1 and returns its address and a function that
// stops it.
func serve(s testpb.TestServiceServer, opts ...grpc.ServerOption) (string, func()) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	srv := grpc.NewServer(opts...)
	testpb.RegisterTestServiceServer(srv, s)
	go srv.Serve(lis) //nolint:errcheck // returns when the server stops
	return lis.Addr().String(), srv.Stop
}

// The client interceptor retries the server's Unavailable; the server
// interceptor runs the handler under a bulkhead and a timeout.
func Example() {
	in := callguard.Chain(bulkhead.New(16), timeout.New(time.Second))
	addr, stop := serve(&flaky{}, grpc.UnaryInterceptor(grpcx.UnaryServerInterceptor(in)))
	defer stop()

	out := callguard.Chain(
		retry.New(retry.OnRetry(func(_ context.Context, attempt int, err error, _ time.Duration) {
			fmt.Printf("attempt %d: %v\n", attempt, status.Code(err))
		})),
		breaker.New(),
		bulkhead.New(64),
	)
	// DialOptions installs both interceptors and switches gRPC's own
	// retries off: the policy retries.
	conn, err := grpc.NewClient(addr, append([]grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
	}, grpcx.DialOptions(out)...)...)
	if err != nil {
		panic(err)
	}
	defer conn.Close()

	_, err = testpb.NewTestServiceClient(conn).UnaryCall(context.Background(), &testpb.SimpleRequest{})
	fmt.Println("call:", status.Code(err))
	// Output:
	// attempt 1: Unavailable
	// call: OK
}

// shedding is a server whose handler calls a downstream service that shed
// the call.
type shedding struct {
	testpb.UnimplementedTestServiceServer
}

func (shedding) UnaryCall(context.Context, *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	return nil, callguard.Overloaded(0, errors.New("downstream: shed"))
}

// A handler that fails because its own downstream call was shed makes the
// server answer Unavailable with pushback -1, and its caller does not retry:
// only the tier next to the fault retries.
func ExampleUnaryServerInterceptor() {
	addr, stop := serve(shedding{}, grpc.UnaryInterceptor(grpcx.UnaryServerInterceptor(bulkhead.New(16))))
	defer stop()

	var retries int
	out := retry.New(retry.OnRetry(func(context.Context, int, error, time.Duration) { retries++ }))
	conn, err := grpc.NewClient(addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDisableRetry(),
		grpc.WithUnaryInterceptor(grpcx.UnaryClientInterceptor(out)),
	)
	if err != nil {
		panic(err)
	}
	defer conn.Close()

	var trailer metadata.MD
	_, err = testpb.NewTestServiceClient(conn).UnaryCall(context.Background(), &testpb.SimpleRequest{}, grpc.Trailer(&trailer))
	fmt.Println("code:", status.Code(err))
	fmt.Println("pushback:", trailer.Get("grpc-retry-pushback-ms"))
	fmt.Println("overloaded:", errors.Is(err, callguard.ErrOverloaded))
	fmt.Println("retries:", retries)
	// Output:
	// code: Unavailable
	// pushback: [-1]
	// overloaded: true
	// retries: 0
}

// The error of a call refused by an open breaker matches breaker.ErrOpen
// and has the status Unavailable.
func ExampleError() {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	dead := lis.Addr().String()
	lis.Close() // nothing listens there any more

	cb := breaker.New(breaker.WithConsecutiveFailures(1))
	conn, err := grpc.NewClient(dead,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithUnaryInterceptor(grpcx.UnaryClientInterceptor(cb)),
	)
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	c := testpb.NewTestServiceClient(conn)

	for range 2 {
		_, err := c.UnaryCall(context.Background(), &testpb.SimpleRequest{})
		fmt.Println(status.Code(err), errors.Is(err, breaker.ErrOpen))
	}
	// Output:
	// Unavailable false
	// Unavailable true
}

// WithPolicy runs one call under another policy: here, a single attempt.
func ExampleWithPolicy() {
	addr, stop := serve(&flaky{})
	defer stop()

	conn, err := grpc.NewClient(addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDisableRetry(),
		grpc.WithUnaryInterceptor(grpcx.UnaryClientInterceptor(retry.New())),
	)
	if err != nil {
		panic(err)
	}
	defer conn.Close()

	once := grpcx.WithPolicy(retry.New(retry.WithMaxAttempts(1))) // made once, reused
	_, err = testpb.NewTestServiceClient(conn).UnaryCall(context.Background(), &testpb.SimpleRequest{}, once)
	fmt.Println(status.Code(err))
	// Output:
	// Unavailable
}
