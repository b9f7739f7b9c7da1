// Package grpctest starts flaky gRPC servers on the loopback interface for
// tests, as callguardtest.NewHTTPServer does for HTTP: the server runs the
// services you register and answers each call as a callguardtest.Script
// says.
//
//	srv := grpctest.NewServer(t, func(s *grpc.Server) {
//		pb.RegisterOrdersServer(s, &orders{})
//	}, callguardtest.First(2, callguardtest.Unavailable))
//	conn := srv.Dial(t, grpcx.DialOptions(stack.Client())...)
//
// It is a package of its own so that tests that need only the fake clock
// or the HTTP server do not link gRPC.
package grpctest
