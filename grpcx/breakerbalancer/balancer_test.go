package breakerbalancer

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/callguard/callguard/breaker"
	"google.golang.org/grpc"
	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
	"google.golang.org/grpc/status"
)

// healthServer answers Check with SERVING, or with err when set.
type healthServer struct {
	grpc_health_v1.UnimplementedHealthServer
	err error
	mu  sync.Mutex
	n   int
}

func (s *healthServer) Check(context.Context, *grpc_health_v1.HealthCheckRequest) (*grpc_health_v1.HealthCheckResponse, error) {
	s.mu.Lock()
	s.n++
	s.mu.Unlock()
	if s.err != nil {
		return nil, s.err
	}
	return &grpc_health_v1.HealthCheckResponse{Status: grpc_health_v1.HealthCheckResponse_SERVING}, nil
}

func (s *healthServer) calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// startServers starts one real gRPC server per entry of errs on 127.0.0.1.
func startServers(t *testing.T, errs ...error) ([]resolver.Address, []*healthServer) {
	t.Helper()
	var addrs []resolver.Address
	var hs []*healthServer
	for _, err := range errs {
		lis, lerr := net.Listen("tcp", "127.0.0.1:0")
		if lerr != nil {
			t.Fatal(lerr)
		}
		s := grpc.NewServer()
		h := &healthServer{err: err}
		grpc_health_v1.RegisterHealthServer(s, h)
		go s.Serve(lis)
		t.Cleanup(s.Stop)
		addrs = append(addrs, resolver.Address{Addr: lis.Addr().String()})
		hs = append(hs, h)
	}
	return addrs, hs
}

// dial connects to addrs through the balancer named policy.
func dial(t *testing.T, addrs []resolver.Address, policy string) grpc_health_v1.HealthClient {
	t.Helper()
	r := manual.NewBuilderWithScheme("cgtest")
	r.InitialState(resolver.State{Addresses: addrs})
	conn, err := grpc.NewClient(r.Scheme()+":///copies",
		grpc.WithResolvers(r),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultServiceConfig(fmt.Sprintf(`{"loadBalancingConfig": [{%q: {}}]}`, policy)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return grpc_health_v1.NewHealthClient(conn)
}

// successRate makes warmup+calls RPCs and returns the share of the last
// calls that succeeded. Each RPC has a generous deadline, a safety net.
func successRate(t *testing.T, c grpc_health_v1.HealthClient, warmup, calls int) float64 {
	t.Helper()
	ok := 0
	for i := range warmup + calls {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := c.Check(ctx, &grpc_health_v1.HealthCheckRequest{}, grpc.WaitForReady(i < warmup))
		cancel()
		if i >= warmup && err == nil {
			ok++
		}
	}
	return float64(ok) / float64(calls)
}

// TestThreeCopiesOneFailing runs three real gRPC servers on 127.0.0.1, one
// of which fails every call with Internal, behind one client. With this
// balancer the failing server's breaker opens and it gets no more calls
// (but a probe per open timeout): at least 99% of calls succeed after the
// warm-up. With grpc's round_robin, a third of them fail.
func TestThreeCopiesOneFailing(t *testing.T) {
	const warmup, calls = 50, 1500
	addrs, hs := startServers(t, nil, status.Error(codes.Internal, "broken copy"), nil)

	withBreakers := successRate(t, dial(t, addrs, Name), warmup, calls)
	broken := hs[1].calls()
	roundRobin := successRate(t, dial(t, addrs, "round_robin"), warmup, calls)
	t.Logf("success after warm-up: %.2f%% with a breaker per backend (the failing copy got %d calls), %.2f%% with round_robin",
		100*withBreakers, broken, 100*roundRobin)
	if withBreakers < 0.99 {
		t.Errorf("breaker per backend: success %.2f%%, want >= 99%%", 100*withBreakers)
	}
	if roundRobin >= 0.99 {
		t.Errorf("round_robin: success %.2f%%, want < 99%% (the test does not tell the two apart)", 100*roundRobin)
	}
	if hs[0].calls() == 0 || hs[2].calls() == 0 {
		t.Errorf("healthy copies got %d and %d calls, want both used", hs[0].calls(), hs[2].calls())
	}
}

// TestAllOpen checks that a call fails at once with Unavailable when every
// backend's breaker is open, and that the classification keeps
// ResourceExhausted and InvalidArgument from opening a breaker.
func TestAllOpen(t *testing.T) {
	const name = "callguard_breaker_test_all_open"
	balancer.Register(NewBuilder(name, WithBreaker(breaker.WithConsecutiveFailures(1), breaker.WithOpenTimeout(time.Hour))))
	addrs, _ := startServers(t, status.Error(codes.Unavailable, "down"))
	c := dial(t, addrs, name)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Check(ctx, &grpc_health_v1.HealthCheckRequest{}, grpc.WaitForReady(true)); status.Code(err) != codes.Unavailable {
		t.Fatalf("first Check = %v, want the server's Unavailable", err)
	}
	_, err := c.Check(ctx, &grpc_health_v1.HealthCheckRequest{})
	if status.Code(err) != codes.Unavailable || status.Convert(err).Message() != status.Convert(errAllOpen).Message() {
		t.Errorf("Check with the only breaker open = %v, want %v", err, errAllOpen)
	}
}

func TestVerdict(t *testing.T) {
	tests := []struct {
		give error
		want error
	}{
		{nil, nil},
		{status.Error(codes.Unavailable, ""), errFailed},
		{status.Error(codes.DeadlineExceeded, ""), errFailed},
		{status.Error(codes.Internal, ""), errFailed},
		{status.Error(codes.InvalidArgument, ""), nil},
		{status.Error(codes.NotFound, ""), nil},
		{status.Error(codes.Canceled, ""), context.Canceled},
	}
	for _, tt := range tests {
		if got := verdict(tt.give, IsFailure); got != tt.want {
			t.Errorf("verdict(%v) = %v, want %v", tt.give, got, tt.want)
		}
	}
	if got := verdict(status.Error(codes.ResourceExhausted, ""), IsFailure); got == nil || got == errFailed {
		t.Errorf("verdict(ResourceExhausted) = %v, want an overload (excluded)", got)
	}
}

func TestNewBuilderPanics(t *testing.T) {
	defer func() {
		if r := recover(); fmt.Sprint(r) != "breakerbalancer: max backends must be >= 1 and idle >= 0, got 0 and 0s" {
			t.Errorf("panic = %v", r)
		}
	}()
	NewBuilder("x", WithMaxBackends(0, 0))
}

// BenchmarkPick is a pick among three backends and the report of a
// success: the two steps of a breaker, and the Done closure.
func BenchmarkPick(b *testing.B) {
	b.ReportAllocs()
	pb := &pickerBuilder{breakers: breaker.NewKeyed(8, 0), isFailure: IsFailure}
	p := &picker{pb: pb, scs: make([]balancer.SubConn, 3)}
	for _, a := range []string{"10.0.0.1:443", "10.0.0.2:443", "10.0.0.3:443"} {
		p.breakers = append(p.breakers, pb.breakers.Get(a))
	}
	for b.Loop() {
		r, err := p.Pick(balancer.PickInfo{})
		if err != nil {
			b.Fatal(err)
		}
		r.Done(balancer.DoneInfo{})
	}
}
