package grpctest_test

import (
	"context"
	"fmt"
	"testing"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/callguard/callguard/callguardtest"
	"github.com/callguard/callguard/callguardtest/grpctest"
	"github.com/callguard/callguard/grpcx"
	"github.com/callguard/callguard/retry"
	"github.com/callguard/callguard/stack"
)

// A client stack against a gRPC server that is down for two calls. In a
// test, pass its t instead of new(testing.T).
func ExampleNewServer() {
	t := new(testing.T) // your test's *testing.T
	s := grpctest.NewServer(t, registerHealth, callguardtest.First(2, callguardtest.Unavailable))
	defer s.Close() // in a test, t.Cleanup does it
	out := stack.Client(stack.WithRetry(retry.WithBackoff(0, 0)))
	conn := s.Dial(t, grpcx.DialOptions(out)...)
	defer conn.Close()
	_, err := healthpb.NewHealthClient(conn).Check(context.Background(), &healthpb.HealthCheckRequest{})
	fmt.Println(err, s.Requests())
	// Output: <nil> 3
}
