package grpctest

import (
	"context"
	"net"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/callguardtest"
)

// A Server is a real gRPC server on 127.0.0.1 whose answers follow a
// [callguardtest.Script]. It is safe for concurrent use.
type Server struct {
	// Addr is the server's address, host:port.
	Addr     string
	srv      *grpc.Server
	script   callguardtest.Script
	pushback string
	requests atomic.Int64
	served   atomic.Int64
	done     chan struct{} // closed when Serve has returned
}

// NewServer starts a flaky gRPC server on 127.0.0.1 with the services that
// register registers. It answers the n-th call it receives (unary, or the
// opening of a stream) as script(n) says, and hands it to the service when
// the script says Serve: Fail is Internal; Unavailable is Unavailable;
// Shed is Unavailable with a grpc-retry-pushback-ms trailer ("-1" unless
// callguardtest.WithPushback sets a delay); Hang holds the call until the
// caller gives up; Reset, which gRPC cannot do per call, is Unavailable. A
// nil script serves every call. The server stops when the test ends
// (t.Cleanup).
func NewServer(t testing.TB, register func(*grpc.Server), script callguardtest.Script, opts ...callguardtest.ServerOption) *Server {
	t.Helper()
	if script == nil {
		script = callguardtest.Always(callguardtest.Serve)
	}
	o := callguardtest.ResolveServerOptions(opts...)
	s := &Server{script: script, pushback: callguard.FormatPushback(o.Pushback)}
	s.srv = grpc.NewServer(grpc.UnaryInterceptor(s.unary), grpc.StreamInterceptor(s.stream))
	if register != nil {
		register(s.srv)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("grpctest: listen: %v", err)
	}
	s.Addr = lis.Addr().String()
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		s.srv.Serve(lis) //nolint:errcheck // returns when stopped
	}()
	t.Cleanup(s.Close)
	return s
}

// Close stops the server at once, ending the calls in progress, and waits
// until it has stopped. It may be called more than once.
func (s *Server) Close() {
	s.srv.Stop()
	<-s.done
}

// Dial returns a client connection to the server, without TLS, with opts
// added; it is closed when the test ends.
func (s *Server) Dial(t testing.TB, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	opts = append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, opts...)
	conn, err := grpc.NewClient(s.Addr, opts...)
	if err != nil {
		t.Fatalf("grpctest: dial %s: %v", s.Addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// Requests returns the number of calls the server has received.
func (s *Server) Requests() int { return int(s.requests.Load()) }

// Served returns the number of calls the server has handed to its services.
func (s *Server) Served() int { return int(s.served.Load()) }

func (s *Server) unary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	setTrailer := func(md metadata.MD) { grpc.SetTrailer(ctx, md) } //nolint:errcheck // best effort, as a real server
	if err := s.fault(ctx, setTrailer); err != nil {
		return nil, err
	}
	return handler(ctx, req)
}

func (s *Server) stream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if err := s.fault(ss.Context(), ss.SetTrailer); err != nil {
		return err
	}
	return handler(srv, ss)
}

// fault returns the error for the call's fault, or nil to serve it.
func (s *Server) fault(ctx context.Context, setTrailer func(metadata.MD)) error {
	n := int(s.requests.Add(1))
	switch s.script(n) {
	case callguardtest.Serve:
		s.served.Add(1)
		return nil
	case callguardtest.Fail:
		return status.Error(codes.Internal, "grpctest: injected failure")
	case callguardtest.Shed:
		setTrailer(metadata.Pairs("grpc-retry-pushback-ms", s.pushback))
		return status.Error(codes.Unavailable, "grpctest: injected shedding")
	case callguardtest.Hang:
		<-ctx.Done()
		return status.FromContextError(ctx.Err()).Err()
	default: // Unavailable, Reset
		return status.Error(codes.Unavailable, "grpctest: injected outage")
	}
}
