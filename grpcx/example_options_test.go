package grpcx_test

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	testpb "google.golang.org/grpc/interop/grpc_testing"

	"github.com/callguard/callguard/grpcx"
)

// deadlinePrinter prints the time its handler has, to a tenth of a second.
type deadlinePrinter struct {
	testpb.UnimplementedTestServiceServer
}

func (deadlinePrinter) UnaryCall(ctx context.Context, _ *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	dl, _ := ctx.Deadline()
	fmt.Println("handler has", time.Until(dl).Round(100*time.Millisecond))
	return &testpb.SimpleResponse{}, nil
}

// The server takes the margin, as in httpx: gRPC sends all the time the
// caller has left, and the handler gets that less the margin, so that its
// answer reaches the caller in time. A server option given to a client
// interceptor does not compile; nil policies mean propagation only.
func ExampleWithDeadlineMargin() {
	in := grpcx.UnaryServerInterceptor(nil, grpcx.WithDeadlineMargin(500*time.Millisecond))
	addr, stop := serve(deadlinePrinter{}, grpc.UnaryInterceptor(in))
	defer stop()
	conn, err := grpc.NewClient(addr, append([]grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
	}, grpcx.DialOptions(nil)...)...)
	if err != nil {
		panic(err)
	}
	defer conn.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := testpb.NewTestServiceClient(conn).UnaryCall(ctx, &testpb.SimpleRequest{}); err != nil {
		fmt.Println(err)
	}
	// Output:
	// handler has 1.5s
}
