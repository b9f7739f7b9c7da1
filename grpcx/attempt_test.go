package grpcx_test

import (
	"context"
	"slices"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/grpcx"
	"github.com/callguard/callguard/hedge"
	"github.com/callguard/callguard/loadshed"
)

// TestAttemptsReachServer: a client that retries twice on Unavailable sends
// attempts 1, 2 and 3 (callguard-attempt), and the server reads them
// (callguard.InboundAttempt); an Edge server ignores them and removes the
// key from what its handler sees.
func TestAttemptsReachServer(t *testing.T) {
	tests := []struct {
		name    string
		opts    []grpcx.ServerOption
		want    []int
		wantMDs int
	}{
		{"trusted", nil, []int{1, 2, 3}, 2},
		{"edge", []grpcx.ServerOption{grpcx.Edge()}, []int{1, 1, 1}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var seen []int
			mds := 0
			srv := &testServer{unary: func(ctx context.Context, n int64, _ *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
				mu.Lock()
				seen = append(seen, callguard.InboundAttempt(ctx))
				if attemptOf(ctx) != "" {
					mds++
				}
				mu.Unlock()
				if n <= 2 {
					return nil, status.Error(codes.Unavailable, "not yet")
				}
				return &testpb.SimpleResponse{}, nil
			}}
			addr := startServer(t, srv, grpc.UnaryInterceptor(grpcx.UnaryServerInterceptor(nil, tt.opts...)))
			c := dial(t, addr, withPolicy(retries(3, nil))...)
			if _, err := c.UnaryCall(testCtx(t), &testpb.SimpleRequest{}); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if !slices.Equal(seen, tt.want) || mds != tt.wantMDs {
				t.Errorf("server saw attempts %v, %d with metadata; want %v, %d", seen, mds, tt.want, tt.wantMDs)
			}
		})
	}
}

// TestHedgeAttemptsReachServer: a hedge inside a retry. The calls meet in
// pairs at the server (so the hedge starts while the first attempt runs)
// and fail, so the retry runs a second round: the server sees attempts 1
// and 2, then 2 and 3, 4 calls for 1 first attempt.
func TestHedgeAttemptsReachServer(t *testing.T) {
	var mu sync.Mutex
	var seen []int
	pairs := [...]chan struct{}{make(chan struct{}), make(chan struct{}), make(chan struct{})}
	srv := &testServer{unary: func(ctx context.Context, _ int64, _ *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
		mu.Lock()
		i := len(seen)
		seen = append(seen, callguard.InboundAttempt(ctx))
		if i%2 == 1 {
			close(pairs[i/2])
		}
		mu.Unlock()
		waitFor(t, pairs[i/2], "the other call of the pair")
		return nil, status.Error(codes.Unavailable, "down")
	}}
	addr := startServer(t, srv, grpc.UnaryInterceptor(grpcx.UnaryServerInterceptor(nil)))
	p := callguard.Chain(retries(2, nil), hedge.New(hedge.WithDelay(0), hedge.WithBudget(1, 1000)))
	c := dial(t, addr, withPolicy(p, grpcx.WithIdempotent(unaryMethod))...)
	if _, err := c.UnaryCall(testCtx(t), &testpb.SimpleRequest{}); status.Code(err) != codes.Unavailable {
		t.Fatalf("UnaryCall = %v, want Unavailable", err)
	}
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(seen)
	if want := []int{1, 2, 2, 3}; !slices.Equal(seen, want) {
		t.Errorf("server saw attempts %v, want %v", seen, want)
	}
}

// TestServerShedsRetriesFirst: a server limiter of 2 slots, one held by a
// call in progress. A retry (callguard-attempt 2, as a client's retry sends
// it) is shed, a first attempt is served.
func TestServerShedsRetriesFirst(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	srv := &testServer{unary: func(ctx context.Context, _ int64, req *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
		if req.GetFillUsername() {
			close(entered)
			waitFor(t, release, "release")
		}
		return &testpb.SimpleResponse{}, nil
	}}
	lim := loadshed.New(loadshed.WithFixedLimit(2), loadshed.WithShare(loadshed.Default, 1))
	addr := startServer(t, srv, grpc.UnaryInterceptor(grpcx.UnaryServerInterceptor(lim)))
	c := dial(t, addr) // no callguard client: the test sets the metadata itself
	held := make(chan error, 1)
	go func() {
		_, err := c.UnaryCall(testCtx(t), &testpb.SimpleRequest{FillUsername: true})
		held <- err
	}()
	waitFor(t, entered, "held call at the server")
	retryCtx := metadata.AppendToOutgoingContext(testCtx(t), "callguard-attempt", "2")
	if _, err := c.UnaryCall(retryCtx, &testpb.SimpleRequest{}); status.Code(err) != codes.Unavailable {
		t.Errorf("retry: UnaryCall = %v, want Unavailable (shed)", err)
	}
	if _, err := c.UnaryCall(testCtx(t), &testpb.SimpleRequest{}); err != nil {
		t.Errorf("first attempt: UnaryCall = %v, want served", err)
	}
	close(release)
	if err := <-held; err != nil {
		t.Error(err)
	}
	if n := lim.ShedRetries(); n != 1 {
		t.Errorf("ShedRetries() = %d, want 1", n)
	}
}
