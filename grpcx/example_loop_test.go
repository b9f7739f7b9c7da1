package grpcx_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"

	"github.com/callguard/callguard/grpcx"
	"github.com/callguard/callguard/retry"
	"github.com/callguard/callguard/ttl"
)

// forward is a service that calls next with its incoming context.
type forward struct {
	testpb.UnimplementedTestServiceServer
	next chan testpb.TestServiceClient // holds the client once it is known
}

func (f *forward) UnaryCall(ctx context.Context, req *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	next := <-f.next
	f.next <- next
	return next.UnaryCall(ctx, req)
}

// Two services that call each other by mistake, orders → billing →
// orders: the call is refused on its second arrival at orders, before its
// handler runs, and the caller learns the whole loop. Each server's policy
// starts with a TTL that names the service; the handlers pass their
// incoming context on and do nothing else.
func ExampleUnaryServerInterceptor_loop() {
	client := func(addr string) (testpb.TestServiceClient, func() error) {
		conn, err := grpc.NewClient(addr,
			grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithDisableRetry(),
			grpc.WithUnaryInterceptor(grpcx.UnaryClientInterceptor(retry.New())),
		)
		if err != nil {
			panic(err)
		}
		return testpb.NewTestServiceClient(conn), conn.Close
	}
	var addrs []string
	var services []*forward
	for _, name := range []string{"orders", "billing"} {
		f := &forward{next: make(chan testpb.TestServiceClient, 1)}
		in := grpcx.UnaryServerInterceptor(ttl.New(ttl.WithService(name)))
		addr, stop := serve(f, grpc.UnaryInterceptor(in))
		defer stop()
		addrs, services = append(addrs, addr), append(services, f)
	}
	for i, f := range services {
		c, closeConn := client(addrs[(i+1)%2])
		defer closeConn()
		f.next <- c
	}

	orders, closeConn := client(addrs[0])
	defer closeConn()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := orders.UnaryCall(ctx, &testpb.SimpleRequest{})

	var loop *ttl.LoopError
	fmt.Println(status.Code(err), errors.As(err, &loop), errors.Is(err, ttl.ErrLoop))
	fmt.Println(loop.Path)
	// Output:
	// FailedPrecondition true true
	// [orders billing orders]
}

// A server whose handlers need at least 50 ms refuses, at once, a call
// that has less time left: the handler never runs.
func ExampleWithMinServiceTime() {
	f := &flaky{}
	f.calls.Store(1) // never fails
	in := grpcx.UnaryServerInterceptor(ttl.New(), grpcx.WithMinServiceTime(50*time.Millisecond))
	addr, stop := serve(f, grpc.UnaryInterceptor(in))
	defer stop()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	c := testpb.NewTestServiceClient(conn)

	for _, d := range []time.Duration{20 * time.Millisecond, 2 * time.Second} {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		_, err := c.UnaryCall(ctx, &testpb.SimpleRequest{})
		cancel()
		fmt.Printf("%v left: %v\n", d, status.Code(err))
	}
	fmt.Println("handler runs:", f.calls.Load()-1)
	// Output:
	// 20ms left: DeadlineExceeded
	// 2s left: OK
	// handler runs: 1
}
