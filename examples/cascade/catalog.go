package main

import (
	"context"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	testpb "google.golang.org/grpc/interop/grpc_testing"

	"github.com/callguard/callguard/grpcx"
	"github.com/callguard/callguard/stack"
)

// catalogService is catalog's gRPC service: its pool.
type catalogService struct {
	testpb.UnimplementedTestServiceServer
	p *pool
}

func (s catalogService) UnaryCall(ctx context.Context, _ *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	if err := s.p.serve(ctx); err != nil {
		return nil, err
	}
	return &testpb.SimpleResponse{}, nil
}

func (sys *system) startCatalog() error {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	var sopts []grpc.ServerOption
	// count is innermost on api's side: it sees every attempt.
	count := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if ctx.Err() == nil {
			sys.n[catCalls].Add(1)
		}
		return invoker(ctx, method, req, reply, cc, opts...)
	}
	dopts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if sys.cfg.guarded {
		in := stack.Server("catalog")
		sopts = append(sopts, grpc.ChainUnaryInterceptor(grpcx.UnaryServerInterceptor(in)))
		dopts = append(dopts, grpcx.DialOptions(stack.Client(stack.WithName("catalog")))...)
	}
	dopts = append(dopts, grpc.WithChainUnaryInterceptor(count))
	sys.catalog = grpc.NewServer(sopts...)
	testpb.RegisterTestServiceServer(sys.catalog, catalogService{p: sys.catPool})
	sys.catDone = make(chan struct{})
	go func() {
		defer close(sys.catDone)
		sys.catalog.Serve(lis) //nolint:errcheck // returns when the server stops
	}()
	if sys.catConn, err = grpc.NewClient(lis.Addr().String(), dopts...); err != nil {
		return err
	}
	sys.catStub = testpb.NewTestServiceClient(sys.catConn)
	return nil
}
