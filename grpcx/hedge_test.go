package grpcx_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/grpcx"
	"github.com/callguard/callguard/hedge"
)

// waitFor waits for ch, or fails t after a safety net that a correct
// implementation never reaches; it is never what a test measures.
func waitFor(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Errorf("%s: not within 10s", what)
	}
}

// attemptOf returns the callguard-attempt metadata of an inbound call, ""
// for none.
func attemptOf(ctx context.Context) string {
	if v := metadata.ValueFromIncomingContext(ctx, "callguard-attempt"); len(v) > 0 {
		return v[0]
	}
	return ""
}

// TestHedgeIdempotentMethod: a call of a method declared idempotent is
// hedged. Each attempt waits at the server until the other has arrived;
// the hedge answers, the first is cancelled. The server sees no attempt
// number, then 2.
func TestHedgeIdempotentMethod(t *testing.T) {
	firstIn, hedgeIn := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	var seen []string
	srv := &testServer{unary: func(ctx context.Context, _ int64, req *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
		n := attemptOf(ctx)
		mu.Lock()
		seen = append(seen, n)
		mu.Unlock()
		if n == "" {
			close(firstIn)
			waitFor(t, hedgeIn, "hedge at the server")
			waitFor(t, ctx.Done(), "first attempt cancelled")
			return nil, ctx.Err()
		}
		close(hedgeIn)
		waitFor(t, firstIn, "first attempt at the server")
		return &testpb.SimpleResponse{Username: "hedge"}, nil
	}}
	h := hedge.New(hedge.WithDelay(0), hedge.WithBudget(1, 1000))
	c := dial(t, startServer(t, srv), withPolicy(h, grpcx.WithIdempotent(unaryMethod))...)
	resp, err := c.UnaryCall(testCtx(t), &testpb.SimpleRequest{})
	if err != nil || resp.GetUsername() != "hedge" {
		t.Fatalf("UnaryCall = %v, %v; want the hedge's reply", resp, err)
	}
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(seen)
	if !slices.Equal(seen, []string{"", "2"}) {
		t.Errorf("server saw callguard-attempt %q, want none and \"2\"", seen)
	}
}

// safeSeen is a policy that records whether each call's context is safe
// to send twice at once, as a hedge's default predicate reads it.
type safeSeen struct {
	mu   sync.Mutex
	seen []bool
}

func (s *safeSeen) Wrap(next callguard.Handler) callguard.Handler {
	return func(ctx context.Context, call func(context.Context) error) error {
		s.mu.Lock()
		s.seen = append(s.seen, callguard.IsSafe(ctx))
		s.mu.Unlock()
		return next(ctx, call)
	}
}

// TestIdempotentMarks: the client interceptors mark as safe exactly the
// unary calls declared idempotent, whatever the caller's context says;
// streams never.
func TestIdempotentMarks(t *testing.T) {
	addr := startServer(t, &testServer{})
	safeCtx := callguard.ContextSafe(context.Background())
	tests := []struct {
		name    string
		opts    []grpcx.ClientOption
		ctx     context.Context
		callOpt []grpc.CallOption
		want    bool
	}{
		{"undeclared", nil, context.Background(), nil, false},
		{"undeclared, caller says safe", nil, safeCtx, nil, false},
		{"method declared", []grpcx.ClientOption{grpcx.WithIdempotent(unaryMethod)}, context.Background(), nil, true},
		{"other method declared", []grpcx.ClientOption{grpcx.WithIdempotent("/grpc.testing.TestService/EmptyCall")}, safeCtx, nil, false},
		{"call option", nil, context.Background(), []grpc.CallOption{grpcx.Idempotent()}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &safeSeen{}
			c := dial(t, addr, withPolicy(p, tt.opts...)...)
			ctx, cancel := context.WithTimeout(tt.ctx, 10*time.Second)
			defer cancel()
			if _, err := c.UnaryCall(ctx, &testpb.SimpleRequest{}, tt.callOpt...); err != nil {
				t.Fatal(err)
			}
			stream, err := c.StreamingOutputCall(callguard.ContextSafe(ctx), outputRequest(1))
			if err != nil {
				t.Fatal(err)
			}
			for {
				if _, err := stream.Recv(); err != nil {
					break
				}
			}
			p.mu.Lock()
			defer p.mu.Unlock()
			if want := []bool{tt.want, false}; !slices.Equal(p.seen, want) {
				t.Errorf("IsSafe seen by the policy (unary, stream) = %v, want %v", p.seen, want)
			}
		})
	}
}

func TestWithIdempotentPanics(t *testing.T) {
	for _, give := range []string{"", "UnaryCall", "/svc", "/svc/", "//m", "/a/b/c", "svc/m"} {
		t.Run(give, func(t *testing.T) {
			want := fmt.Sprintf(`grpcx: WithIdempotent: method must be "/package.Service/Method", got %q`, give)
			defer func() {
				if got := fmt.Sprint(recover()); got != want {
					t.Errorf("panic = %s, want %s", got, want)
				}
			}()
			grpcx.WithIdempotent(give)
		})
	}
}
