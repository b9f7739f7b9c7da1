package grpcx_test

import (
	"context"
	"math"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/breaker"
	"github.com/callguard/callguard/grpcx"
	"github.com/callguard/callguard/loadshed"
	"github.com/callguard/callguard/retry"
	"github.com/callguard/callguard/ttl"
)

const (
	unaryMethod  = "/grpc.testing.TestService/UnaryCall"
	streamMethod = "/grpc.testing.TestService/StreamingOutputCall"
)

// heldLimiter returns a limiter with a fixed limit of 4 of which n slots
// are held, at critical priority, until the test ends.
func heldLimiter(t *testing.T, n int, opts ...loadshed.Option) *loadshed.Limiter {
	t.Helper()
	l := loadshed.New(append([]loadshed.Option{loadshed.WithFixedLimit(4)}, opts...)...)
	ctx := loadshed.NewContext(context.Background(), loadshed.Critical)
	for range n {
		tok, err := l.Acquire(ctx)
		if err != nil {
			t.Fatalf("Acquire() = %v", err)
		}
		t.Cleanup(func() { tok.Release(loadshed.Ignored) })
	}
	return l
}

// serverWith returns the server options that install p, with opts, in both
// server interceptors.
func serverWith(p callguard.Policy, opts ...grpcx.ServerOption) []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(grpcx.UnaryServerInterceptor(p, opts...)),
		grpc.ChainStreamInterceptor(grpcx.StreamServerInterceptor(p, opts...)),
	}
}

// callBoth makes a unary and a server-streaming call with ctx and returns
// their errors and trailers.
func callBoth(t *testing.T, ctx context.Context, c testpb.TestServiceClient) (errs [2]error, trailers [2]metadata.MD) {
	t.Helper()
	_, errs[0] = c.UnaryCall(ctx, &testpb.SimpleRequest{}, grpc.Trailer(&trailers[0]))
	s, err := c.StreamingOutputCall(ctx, outputRequest(1))
	if err != nil {
		t.Fatal(err)
	}
	if _, errs[1] = s.Recv(); errs[1] == nil {
		_, errs[1] = s.Recv() // io.EOF: success
		errs[1] = nil
	}
	trailers[1] = s.Trailer()
	return errs, trailers
}

func TestServerLimiter(t *testing.T) {
	tests := []struct {
		name         string
		limiter      func(t *testing.T) *loadshed.Limiter
		timeout      time.Duration // 0: the test's context
		wantCode     codes.Code
		wantPushback string
	}{
		{"shed", func(t *testing.T) *loadshed.Limiter { return heldLimiter(t, 4) }, 0, codes.Unavailable, "-1"},
		{"shed with delay", func(t *testing.T) *loadshed.Limiter {
			return heldLimiter(t, 4, loadshed.WithPushback(1500*time.Millisecond))
		}, 0, codes.Unavailable, "1500"},
		{"deadline too short", func(*testing.T) *loadshed.Limiter { return loadshed.New(loadshed.WithMinServiceTime(time.Minute)) },
			5 * time.Second, codes.DeadlineExceeded, "-1"}, // too late: don't retry
		{"admitted", func(*testing.T) *loadshed.Limiter { return loadshed.New() }, 0, codes.OK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := tt.limiter(t)
			ts := &testServer{}
			c := dial(t, startServer(t, ts, serverWith(l)...))
			ctx := testCtx(t)
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			errs, trailers := callBoth(t, ctx, c)
			for i, call := range []string{"UnaryCall", "StreamingOutputCall"} {
				checkMapped(t, call, errs[i], trailers[i], tt.wantCode, tt.wantPushback, "")
			}
			wantCalls := int64(0)
			if tt.wantCode == codes.OK {
				wantCalls = 2
			}
			if n := ts.calls.Load(); n != wantCalls {
				t.Errorf("handler calls = %d, want %d", n, wantCalls)
			}
			if n := l.InFlight(); n != 4 && n != 0 {
				t.Errorf("InFlight() = %d, want the held slots only", n)
			}
		})
	}
}

// TestServerLimiterOutcome checks what a limiter in the server's policy
// learns from a handler's error, and what the caller gets.
func TestServerLimiterOutcome(t *testing.T) {
	tests := []struct {
		name         string
		give         error
		wantOutcome  loadshed.Outcome
		wantCode     codes.Code
		wantPushback string
		wantRefusal  string // callguard-error
		wantMessage  string // "" to skip
	}{
		{"exhausted, open breaker", &retry.ExhaustedError{Attempts: 3, Reason: retry.StopMaxAttempts, Err: breaker.ErrOpen},
			loadshed.Ignored, codes.Unavailable, "-1", "downstream", ""},
		{"exhausted, unavailable", &retry.ExhaustedError{Attempts: 3, Reason: retry.StopMaxAttempts, Err: status.Error(codes.Unavailable, "x")},
			loadshed.Ignored, codes.Unavailable, "-1", "downstream", ""},
		{"own unavailable", status.Error(codes.Unavailable, "db down"), loadshed.Ignored, codes.Unavailable, "", "", "db down"},
		{"own resource exhausted", status.Error(codes.ResourceExhausted, "quota"), loadshed.Ignored, codes.ResourceExhausted, "", "", "quota"},
		{"own deadline", status.Error(codes.DeadlineExceeded, "slow"), loadshed.Dropped, codes.DeadlineExceeded, "", "", "slow"},
		{"not found", status.Error(codes.NotFound, "none"), loadshed.Success, codes.NotFound, "", "", "none"},
		{"internal", status.Error(codes.Internal, "bug"), loadshed.Success, codes.Internal, "", "", "bug"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got atomic.Value
			observe := callguard.PolicyFunc(func(next callguard.Handler) callguard.Handler {
				return func(ctx context.Context, call func(context.Context) error) error {
					err := next(ctx, call)
					got.Store(loadshed.OutcomeOf(err))
					return err
				}
			})
			l := loadshed.New()
			ts := &testServer{unary: func(context.Context, int64, *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
				return nil, tt.give
			}}
			c := dial(t, startServer(t, ts, serverWith(callguard.Chain(observe, l))...))
			var trailer metadata.MD
			_, err := c.UnaryCall(testCtx(t), &testpb.SimpleRequest{}, grpc.Trailer(&trailer))
			checkMapped(t, "UnaryCall", err, trailer, tt.wantCode, tt.wantPushback, tt.wantRefusal)
			if msg := status.Convert(err).Message(); tt.wantMessage != "" && msg != tt.wantMessage {
				t.Errorf("message %q, want the handler's %q", msg, tt.wantMessage)
			}
			if o := got.Load(); o != tt.wantOutcome {
				t.Errorf("limiter outcome = %v, want %v", o, tt.wantOutcome)
			}
			if n := l.InFlight(); n != 0 {
				t.Errorf("InFlight() = %d, want 0", n)
			}
		})
	}
}

func TestServerExemptAndPriority(t *testing.T) {
	tests := []struct {
		name     string
		opts     []grpcx.ServerOption
		wantCode [2]codes.Code // UnaryCall, StreamingOutputCall
	}{
		{"neither", nil, [2]codes.Code{codes.Unavailable, codes.Unavailable}},
		{"exempt stream", []grpcx.ServerOption{grpcx.WithExempt(func(m string) bool { return m == streamMethod })},
			[2]codes.Code{codes.Unavailable, codes.OK}},
		{"exempt unary", []grpcx.ServerOption{grpcx.WithExempt(func(m string) bool { return m == unaryMethod })},
			[2]codes.Code{codes.OK, codes.Unavailable}},
		{"critical unary", []grpcx.ServerOption{grpcx.WithPriority(func(m string) loadshed.Priority {
			if m == unaryMethod {
				return loadshed.Critical
			}
			return loadshed.Sheddable
		})}, [2]codes.Code{codes.OK, codes.Unavailable}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Three of four slots held: default requests (3/4 of the
			// limit) are shed, critical ones (all of it) admitted.
			l := heldLimiter(t, 3)
			c := dial(t, startServer(t, &testServer{}, serverWith(l, tt.opts...)...))
			// The caller asks for sheddable; WithPriority overrides it.
			ctx := metadata.AppendToOutgoingContext(testCtx(t), loadshed.PriorityMetadata, "sheddable")
			errs, _ := callBoth(t, ctx, c)
			for i, call := range []string{"UnaryCall", "StreamingOutputCall"} {
				if got := status.Code(errs[i]); got != tt.wantCode[i] {
					t.Errorf("%s = %v, want %v", call, errs[i], tt.wantCode[i])
				}
			}
		})
	}
}

// TestServerPriorityInContext checks that the handler, and so its outgoing
// calls, see the priority that WithPriority assigns.
func TestServerPriorityInContext(t *testing.T) {
	var seen atomic.Int32
	ts := &testServer{unary: func(ctx context.Context, _ int64, _ *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
		seen.Store(int32(loadshed.FromContext(ctx)))
		return &testpb.SimpleResponse{}, nil
	}}
	c := dial(t, startServer(t, ts, serverWith(loadshed.New(),
		grpcx.WithPriority(func(string) loadshed.Priority { return loadshed.Critical }))...))
	if _, err := c.UnaryCall(testCtx(t), &testpb.SimpleRequest{}); err != nil {
		t.Fatal(err)
	}
	if got := loadshed.Priority(seen.Load()); got != loadshed.Critical {
		t.Errorf("handler saw priority %v, want critical", got)
	}
}

// countCalls returns a server interceptor that counts unary calls.
func countCalls(n *atomic.Int64) grpc.ServerOption {
	return grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		n.Add(1)
		return h(ctx, req)
	})
}

// stormBackoff is the tiny backoff of every retrying client in the storm test.
const stormBackoff = 100 * time.Microsecond

// grpcTier serves a service whose UnaryCall calls next's. With callguard,
// its server interceptor runs a ttl policy and its client the recommended
// pipeline (3 attempts, a retry budget, a breaker unless noBreaker); naive, its client
// retries any error up to 3 times and the handler returns Unavailable.
// budget configures the retry budget.
func grpcTier(t *testing.T, name, next string, calls *atomic.Int64, naive, noBreaker bool, budget ...retry.BudgetOption) string {
	if naive {
		c := dial(t, next)
		return startServer(t, &testServer{unary: func(ctx context.Context, _ int64, req *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
			if err := naiveCall(ctx, c); err != nil {
				return nil, status.Error(codes.Unavailable, "downstream failed")
			}
			return &testpb.SimpleResponse{}, nil
		}}, countCalls(calls))
	}
	ps := []callguard.Policy{retry.New(retry.WithMaxAttempts(3), retry.WithBackoff(stormBackoff, 10*stormBackoff),
		retry.WithBudget(retry.NewBudget(budget...)))}
	if !noBreaker {
		ps = append(ps, breaker.New(breaker.WithName(name)))
	}
	c := dial(t, next, withPolicy(callguard.Chain(ps...))...)
	return startServer(t, &testServer{unary: func(ctx context.Context, _ int64, req *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
		return c.UnaryCall(ctx, req) // its error as it is: the interceptor maps it
	}}, countCalls(calls), grpc.ChainUnaryInterceptor(grpcx.UnaryServerInterceptor(ttl.New(ttl.WithService(name)))))
}

// countedBudget is a retry budget without a minimum rate: 10 tokens to
// start with, and DefaultRatio of a token for each call. The retries it
// allows depend on the calls made, not on the time they take.
var countedBudget = []retry.BudgetOption{retry.WithMinPerSecond(0), retry.WithMaxTokens(10)}

// checkBudget checks that n requests, each failing at C, reached C once
// each plus the retries that countedBudget allows: at least its 10 tokens,
// at most those and DefaultRatio·n.
func checkBudget(t *testing.T, n int, c int64) {
	t.Helper()
	lo, hi := int64(n+10), int64(n+10)+int64(math.Round(retry.DefaultRatio*float64(n)))
	if c < lo || c > hi {
		t.Errorf("%d calls reached C for %d requests, want %d to %d: one each and the budget's retries", c, n, lo, hi)
	}
}

// naiveCall makes up to 3 attempts, retrying any error after a tiny backoff.
func naiveCall(ctx context.Context, c testpb.TestServiceClient) error {
	for attempt := 1; ; attempt++ {
		_, err := c.UnaryCall(ctx, &testpb.SimpleRequest{})
		if err == nil || attempt == 3 || ctx.Err() != nil {
			return err
		}
		time.Sleep(stormBackoff)
	}
}

// TestNoRetryStorm is httpx's TestNoRetryStorm over gRPC: edge client →
// A → B → C, every client with 3 attempts, C answering every call with
// Unavailable (without pushback, as a server without callguard does, or
// shed by a loadshed.Limiter, with pushback -1).
func TestNoRetryStorm(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	tests := []struct {
		name      string
		naive     bool
		shed      bool
		noBreaker bool
		n         int
		bound     float64 // calls to C per request after warm-up; 0: only logged
		// budget configures every tier's retry budget. The default budget's
		// minimum rate (10 retries a second) makes the count depend on how
		// fast the machine runs the test; without it, retries are at most
		// DefaultRatio·n + the budget's capacity, a count.
		budget []retry.BudgetOption
	}{
		{name: "naive", naive: true, n: 30},
		{name: "callguard, C unavailable", n: 200, bound: 1.1},
		{name: "callguard, C sheds", shed: true, n: 200, bound: 1.1},
		{name: "callguard without breakers, C sheds", shed: true, noBreaker: true, n: 200, bound: 1.1},
		{name: "callguard without breakers, C unavailable", noBreaker: true, n: 200, budget: countedBudget},
	}
	const warm = 20
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var a, b, cCalls atomic.Int64
			opts := []grpc.ServerOption{countCalls(&cCalls)}
			if tt.shed {
				opts = append(opts, serverWith(heldLimiter(t, 4))...)
			}
			urlC := startServer(t, &testServer{unary: func(context.Context, int64, *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
				return nil, status.Error(codes.Unavailable, "overloaded")
			}}, opts...)
			addrA := grpcTier(t, "a", grpcTier(t, "b", urlC, &b, tt.naive, tt.noBreaker, tt.budget...), &a, tt.naive, tt.noBreaker, tt.budget...)
			var edge func(ctx context.Context) error
			if tt.naive {
				c := dial(t, addrA)
				edge = func(ctx context.Context) error { return naiveCall(ctx, c) }
			} else {
				c := dial(t, addrA, withPolicy(retry.New(retry.WithMaxAttempts(3), retry.WithBackoff(stormBackoff, 10*stormBackoff)))...)
				edge = func(ctx context.Context) error { _, err := c.UnaryCall(ctx, &testpb.SimpleRequest{}); return err }
			}
			ctx := testCtx(t)
			var warmC int64
			for i := range tt.n {
				if i == warm {
					warmC = cCalls.Load()
				}
				if err := edge(ctx); status.Code(err) != codes.Unavailable {
					t.Fatalf("request %d: %v, want Unavailable", i, err)
				}
			}
			n := float64(tt.n)
			after := float64(cCalls.Load()-warmC) / float64(tt.n-warm)
			t.Logf("%d requests: per request, %.2f reach A, %.2f reach B, %.2f reach C (%.2f after the first %d)",
				tt.n, float64(a.Load())/n, float64(b.Load())/n, float64(cCalls.Load())/n, after, warm)
			if tt.bound > 0 && after > tt.bound {
				t.Errorf("calls reaching C per request after warm-up = %.2f, want <= %.2f", after, tt.bound)
			}
			switch {
			case tt.naive && cCalls.Load() != 27*int64(tt.n):
				t.Errorf("naive stack: %d calls reached C for %d requests, want 27 each", cCalls.Load(), tt.n)
			case !tt.naive && a.Load() != int64(tt.n):
				t.Errorf("%d calls reached A for %d edge calls, want one each: A's Unavailable says don't retry", a.Load(), tt.n)
			}
			if tt.budget != nil {
				checkBudget(t, tt.n, cCalls.Load())
			}
		})
	}
}
