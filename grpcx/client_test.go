package grpcx_test

import (
	"context"
	"errors"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/breaker"
	"github.com/callguard/callguard/bulkhead"
	"github.com/callguard/callguard/grpcx"
	"github.com/callguard/callguard/retry"
	"github.com/callguard/callguard/timeout"
)

var _ grpc.UnaryClientInterceptor = grpcx.UnaryClientInterceptor(callguard.Chain())

// failing returns a unary behaviour that fails the first n calls with code
// and the trailer md, and answers the others.
func failing(n int64, code codes.Code, md metadata.MD) func(context.Context, int64, *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	return func(ctx context.Context, call int64, req *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
		if call <= n {
			if md != nil {
				grpc.SetTrailer(ctx, md)
			}
			return nil, status.Error(code, "boom")
		}
		return &testpb.SimpleResponse{Payload: req.GetPayload()}, nil
	}
}

func TestUnarySuccess(t *testing.T) {
	ts := &testServer{}
	c := dial(t, startServer(t, ts), withPolicy(standard())...)
	resp, err := c.UnaryCall(testCtx(t), &testpb.SimpleRequest{Payload: payload(5)})
	if err != nil || len(resp.GetPayload().GetBody()) != 5 {
		t.Fatalf("UnaryCall = %v, %v, want a 5-byte payload", resp, err)
	}
	if n := ts.calls.Load(); n != 1 {
		t.Errorf("server calls = %d, want 1", n)
	}
}

func TestUnaryRetriesUnavailable(t *testing.T) {
	ts := &testServer{unary: failing(2, codes.Unavailable, nil)}
	var retried atomic.Int64
	c := dial(t, startServer(t, ts), withPolicy(retries(3, &retried))...)
	if _, err := c.UnaryCall(testCtx(t), &testpb.SimpleRequest{}); err != nil {
		t.Fatalf("UnaryCall = %v, want success on the third attempt", err)
	}
	if n, r := ts.calls.Load(), retried.Load(); n != 3 || r != 2 {
		t.Errorf("server calls, retries = %d, %d, want 3, 2", n, r)
	}
}

func TestUnaryClassification(t *testing.T) {
	tests := []struct {
		giveCode  codes.Code
		wantCalls int64
	}{
		{codes.Unavailable, 3},
		{codes.Aborted, 3},
		{codes.ResourceExhausted, 1}, // load without a delay: not retried
		{codes.DeadlineExceeded, 3},
		{codes.Internal, 1},
		{codes.Unknown, 1},
		{codes.DataLoss, 1},
		{codes.InvalidArgument, 1},
		{codes.NotFound, 1},
		{codes.AlreadyExists, 1},
		{codes.PermissionDenied, 1},
		{codes.Unauthenticated, 1},
		{codes.FailedPrecondition, 1},
		{codes.Unimplemented, 1},
		{codes.OutOfRange, 1},
		{codes.Canceled, 1},
	}
	for _, tt := range tests {
		t.Run(tt.giveCode.String(), func(t *testing.T) {
			ts := &testServer{unary: failing(100, tt.giveCode, nil)}
			c := dial(t, startServer(t, ts), withPolicy(retries(3, nil))...)
			_, err := c.UnaryCall(testCtx(t), &testpb.SimpleRequest{})
			st, ok := status.FromError(err)
			if !ok || st.Code() != tt.giveCode || st.Message() != "boom" {
				t.Errorf("UnaryCall = %v (status %v, %v), want %v boom", err, st, ok, tt.giveCode)
			}
			if n := ts.calls.Load(); n != tt.wantCalls {
				t.Errorf("server calls = %d, want %d", n, tt.wantCalls)
			}
		})
	}
}

func TestUnaryPushback(t *testing.T) {
	tests := []struct {
		name         string
		givePushback string
		wantCalls    int64
		wantMinDelay time.Duration
	}{
		{"delay", "30", 2, 30 * time.Millisecond},
		{"do not retry", "-1", 1, 0},
		{"not a number", "soon", 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := &testServer{unary: failing(1, codes.Unavailable, metadata.Pairs("grpc-retry-pushback-ms", tt.givePushback))}
			var delay time.Duration
			r := retry.New(retry.WithMaxAttempts(3), retry.WithBackoff(0, 0),
				retry.OnRetry(func(_ context.Context, _ int, _ error, d time.Duration) { delay = d }))
			c := dial(t, startServer(t, ts), withPolicy(r)...)
			_, err := c.UnaryCall(testCtx(t), &testpb.SimpleRequest{})
			if n := ts.calls.Load(); n != tt.wantCalls {
				t.Fatalf("server calls = %d, want %d (err %v)", n, tt.wantCalls, err)
			}
			if tt.wantCalls == 1 {
				if !errors.Is(err, callguard.ErrOverloaded) || status.Code(err) != codes.Unavailable {
					t.Errorf("UnaryCall = %v (%v), want overloaded, Unavailable", err, status.Code(err))
				}
				return
			}
			if err != nil || delay < tt.wantMinDelay {
				t.Errorf("UnaryCall = %v after a wait of %v, want success after at least %v", err, delay, tt.wantMinDelay)
			}
		})
	}
}

// TestUnaryLocalResourceExhausted checks that gRPC's own message size
// limits, which it reports as ResourceExhausted, are not retried.
func TestUnaryLocalResourceExhausted(t *testing.T) {
	tests := []struct {
		name      string
		giveOpt   grpc.CallOption
		giveSize  int
		wantCalls int64
	}{
		{"receive", grpc.MaxCallRecvMsgSize(64), 0, 1},
		{"send", grpc.MaxCallSendMsgSize(64), 1024, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := &testServer{unary: func(_ context.Context, _ int64, _ *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
				return &testpb.SimpleResponse{Payload: payload(1024)}, nil
			}}
			c := dial(t, startServer(t, ts), withPolicy(retries(3, nil))...)
			_, err := c.UnaryCall(testCtx(t), &testpb.SimpleRequest{Payload: payload(tt.giveSize)}, tt.giveOpt)
			if status.Code(err) != codes.ResourceExhausted || !callguard.IsPermanent(err) {
				t.Errorf("UnaryCall = %v, want a permanent ResourceExhausted", err)
			}
			if n := ts.calls.Load(); n != tt.wantCalls {
				t.Errorf("server calls = %d, want %d", n, tt.wantCalls)
			}
		})
	}
}

func TestUnaryBreakerOpensOnDeadServer(t *testing.T) {
	cb := breaker.New(breaker.WithConsecutiveFailures(3))
	c := dial(t, deadAddr(t), withPolicy(callguard.Chain(retries(2, nil), cb))...)
	ctx := testCtx(t)
	var err error
	for i := 0; i < 10 && !errors.Is(err, breaker.ErrOpen); i++ {
		_, err = c.UnaryCall(ctx, &testpb.SimpleRequest{})
		if err == nil {
			t.Fatal("UnaryCall to a dead server succeeded")
		}
	}
	if !errors.Is(err, breaker.ErrOpen) {
		t.Fatalf("UnaryCall = %v after 10 calls, want breaker.ErrOpen", err)
	}
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.Unavailable {
		t.Errorf("status of %v = %v, %v, want Unavailable", err, st, ok)
	}
	var e *grpcx.Error
	if !errors.As(err, &e) {
		t.Errorf("UnaryCall = %T, want a *grpcx.Error", err)
	}
	if cb.State() != breaker.Open {
		t.Errorf("breaker state = %v, want open", cb.State())
	}
}

func TestUnaryBulkheadFull(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{})
	ts := &testServer{unary: func(ctx context.Context, _ int64, _ *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
		close(started)
		<-release
		return &testpb.SimpleResponse{}, nil
	}}
	c := dial(t, startServer(t, ts), withPolicy(callguard.Chain(retries(3, nil), bulkhead.New(1)))...)
	ctx := testCtx(t)
	done := make(chan error)
	go func() {
		_, err := c.UnaryCall(ctx, &testpb.SimpleRequest{})
		done <- err
	}()
	<-started
	_, err := c.UnaryCall(ctx, &testpb.SimpleRequest{})
	close(release)
	if first := <-done; first != nil {
		t.Errorf("first UnaryCall = %v, want success", first)
	}
	if !errors.Is(err, bulkhead.ErrFull) || status.Code(err) != codes.Unavailable {
		t.Errorf("second UnaryCall = %v (%v), want bulkhead.ErrFull, Unavailable", err, status.Code(err))
	}
	if n := ts.calls.Load(); n != 1 {
		t.Errorf("server calls = %d, want 1", n)
	}
}

func TestUnaryTimeoutPerAttempt(t *testing.T) {
	ts := &testServer{unary: func(ctx context.Context, _ int64, _ *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}}
	var attempts atomic.Int64
	count := callguard.PolicyFunc(func(next callguard.Handler) callguard.Handler {
		return func(ctx context.Context, call func(context.Context) error) error {
			attempts.Add(1)
			return next(ctx, call)
		}
	})
	c := dial(t, startServer(t, ts), withPolicy(callguard.Chain(retries(2, nil), count, timeout.New(50*time.Millisecond)))...)
	_, err := c.UnaryCall(testCtx(t), &testpb.SimpleRequest{})
	// The server's copy of the deadline may end the attempt a moment before
	// the client's timer does: then the error is gRPC's DeadlineExceeded
	// rather than timeout.ErrTimeout. Either is a retried failure.
	if !errors.Is(err, retry.ErrExhausted) || status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("UnaryCall = %v (%v), want retry.ErrExhausted, DeadlineExceeded", err, status.Code(err))
	}
	// Two attempts, each timed out; on a busy machine an attempt may time
	// out before it reaches the server, so the server sees at most two.
	if n, m := attempts.Load(), ts.calls.Load(); n != 2 || m > 2 {
		t.Errorf("attempts, server calls = %d, %d; want 2, at most 2", n, m)
	}
}

func TestUnaryCallerCanceled(t *testing.T) {
	ts := &testServer{unary: failing(100, codes.Unavailable, nil)}
	ctx, cancel := context.WithCancel(context.Background())
	r := retry.New(retry.WithBackoff(time.Hour, time.Hour), retry.OnRetry(func(context.Context, int, error, time.Duration) { cancel() }))
	c := dial(t, startServer(t, ts), withPolicy(r)...)
	_, err := c.UnaryCall(ctx, &testpb.SimpleRequest{})
	if !errors.Is(err, context.Canceled) || status.Code(err) != codes.Canceled {
		t.Errorf("UnaryCall = %v (%v), want context.Canceled, Canceled", err, status.Code(err))
	}
}

// TestDeadlinePropagates checks that the server sees the client's deadline
// through both interceptors, and the per-attempt timeout when it is sooner.
func TestDeadlinePropagates(t *testing.T) {
	tests := []struct {
		name       string
		givePolicy callguard.Policy
		wantMax    time.Duration
		wantMin    time.Duration
	}{
		{"caller deadline", standard(), 5 * time.Second, 4 * time.Second},
		{"attempt timeout", callguard.Chain(standard(), timeout.New(2*time.Second)), 2 * time.Second, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var left atomic.Int64
			ts := &testServer{unary: func(ctx context.Context, _ int64, _ *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
				if d, ok := ctx.Deadline(); ok {
					left.Store(int64(time.Until(d)))
				}
				return &testpb.SimpleResponse{}, nil
			}}
			addr := startServer(t, ts, grpc.UnaryInterceptor(grpcx.UnaryServerInterceptor(bulkhead.New(4))))
			c := dial(t, addr, withPolicy(tt.givePolicy)...)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if _, err := c.UnaryCall(ctx, &testpb.SimpleRequest{}); err != nil {
				t.Fatal(err)
			}
			if got := time.Duration(left.Load()); got > tt.wantMax || got < tt.wantMin {
				t.Errorf("deadline at the server in %v, want in [%v, %v]", got, tt.wantMin, tt.wantMax)
			}
		})
	}
}

func TestWithPolicy(t *testing.T) {
	one := grpcx.WithPolicy(retries(1, nil))
	none := grpcx.WithPolicy(nil)
	tests := []struct {
		name      string
		giveOpts  []grpc.CallOption
		wantCalls int64
		wantBare  bool // the error is gRPC's own
	}{
		{"interceptor's policy", nil, 3, false},
		{"one attempt", []grpc.CallOption{one}, 1, false},
		{"no policy", []grpc.CallOption{grpc.WaitForReady(false), none}, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := &testServer{unary: failing(100, codes.Unavailable, nil)}
			var leaked atomic.Bool
			spy := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
				for _, o := range opts {
					if reflect.TypeOf(o) == reflect.TypeOf(one) {
						leaked.Store(true)
					}
				}
				return invoker(ctx, method, req, reply, cc, opts...)
			}
			c := dial(t, startServer(t, ts), grpc.WithChainUnaryInterceptor(grpcx.UnaryClientInterceptor(retries(3, nil)), spy))
			_, err := c.UnaryCall(testCtx(t), &testpb.SimpleRequest{}, tt.giveOpts...)
			if n := ts.calls.Load(); n != tt.wantCalls {
				t.Errorf("server calls = %d, want %d", n, tt.wantCalls)
			}
			var e *grpcx.Error
			if status.Code(err) != codes.Unavailable || errors.As(err, &e) == tt.wantBare {
				t.Errorf("UnaryCall = %T %v, want Unavailable, bare gRPC error %v", err, err, tt.wantBare)
			}
			if leaked.Load() {
				t.Error("the WithPolicy option reached gRPC")
			}
		})
	}
}

func TestClassify(t *testing.T) {
	unavailable := status.Error(codes.Unavailable, "x")
	tests := []struct {
		name          string
		giveErr       error
		giveTrailer   metadata.MD
		wantPermanent bool
		wantRetryable bool
		wantPushback  time.Duration
		wantLoop      bool
	}{
		{"unavailable", unavailable, nil, false, true, 0, false},
		{"pushback", unavailable, metadata.Pairs("grpc-retry-pushback-ms", "250"), false, true, 250 * time.Millisecond, false},
		{"pushback zero", unavailable, metadata.Pairs("grpc-retry-pushback-ms", "0"), false, true, 0, false},
		{"pushback negative", unavailable, metadata.Pairs("grpc-retry-pushback-ms", "-1"), false, false, 0, false},
		{"pushback twice", unavailable, metadata.Pairs("grpc-retry-pushback-ms", "1", "grpc-retry-pushback-ms", "2"), false, false, 0, false},
		{"deadline", status.Error(codes.DeadlineExceeded, "x"), nil, false, true, 0, false},
		{"deadline too late", status.Error(codes.DeadlineExceeded, "x"), metadata.Pairs("grpc-retry-pushback-ms", "-1"), true, false, 0, false},
		{"internal", status.Error(codes.Internal, "x"), nil, false, false, 0, false},
		{"not found", status.Error(codes.NotFound, "x"), nil, true, false, 0, false},
		{"resource exhausted", status.Error(codes.ResourceExhausted, "quota"), nil, false, false, 0, false},
		{"resource exhausted, pushback", status.Error(codes.ResourceExhausted, "quota"), metadata.Pairs("grpc-retry-pushback-ms", "250"), false, true, 250 * time.Millisecond, false},
		{"untrusted certificate", status.Error(codes.Unavailable, `connection error: desc = "transport: authentication handshake failed: tls: failed to verify certificate: x509: certificate signed by unknown authority"`), nil, true, false, 0, false},
		{"local size limit", status.Error(codes.ResourceExhausted, "grpc: received message larger than max (9 vs. 4)"), nil, true, false, 0, false},
		{"loop", status.Error(codes.FailedPrecondition, "x"), metadata.Pairs("callguard-error", "loop"), true, false, 0, true},
		{"context canceled", context.Canceled, nil, true, false, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := grpcx.Classify(tt.giveErr, tt.giveTrailer)
			d, _ := callguard.Pushback(err)
			var coded interface{ CallguardError() string }
			loop := errors.As(err, &coded) && coded.CallguardError() == "loop"
			if callguard.IsPermanent(err) != tt.wantPermanent || callguard.Retryable(err) != tt.wantRetryable ||
				d != tt.wantPushback || loop != tt.wantLoop || !errors.Is(err, tt.giveErr) {
				t.Errorf("Classify(%v, %v) = %v: permanent %v, retryable %v, pushback %v, loop %v; want %v, %v, %v, %v",
					tt.giveErr, tt.giveTrailer, err, callguard.IsPermanent(err), callguard.Retryable(err), d, loop,
					tt.wantPermanent, tt.wantRetryable, tt.wantPushback, tt.wantLoop)
			}
		})
	}
}

func TestWithClassifier(t *testing.T) {
	ts := &testServer{unary: failing(100, codes.Internal, nil)}
	retryInternal := grpcx.WithClassifier(func(err error, trailer metadata.MD) error {
		if status.Code(err) == codes.Internal {
			return err // idempotent method: retry it
		}
		return grpcx.Classify(err, trailer)
	})
	c := dial(t, startServer(t, ts), grpc.WithUnaryInterceptor(grpcx.UnaryClientInterceptor(retries(3, nil), retryInternal)))
	_, err := c.UnaryCall(testCtx(t), &testpb.SimpleRequest{})
	if status.Code(err) != codes.Internal || ts.calls.Load() != 3 {
		t.Errorf("UnaryCall = %v after %d calls, want Internal after 3", err, ts.calls.Load())
	}
}

// TestUnaryAbandonedAttempt runs an attempt that a policy abandons and
// that goes on reading its options after the call returned: it must not
// share state with the next attempt or call (run with -race). The
// abandoning policy is abandonFirst, not a timer, so that a slow machine
// cannot abandon more attempts than the one.
func TestUnaryAbandonedAttempt(t *testing.T) {
	in := grpcx.UnaryClientInterceptor(callguard.Chain(retries(3, nil), abandonFirst))
	var n atomic.Int64
	release, abandoned := make(chan struct{}), make(chan struct{})
	invoker := func(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, opts ...grpc.CallOption) error {
		n.Add(1)
		if ctx.Value(abandonedKey{}) != nil {
			defer close(abandoned)
			<-release                                   // ignores ctx
			_ = append([]grpc.CallOption(nil), opts...) // reads its options after the policy gave up on it
			return status.Error(codes.Unavailable, "late")
		}
		return nil
	}
	for i := 0; i < 20; i++ {
		if err := in(testCtx(t), "/m", nil, nil, nil, invoker); err != nil {
			t.Fatalf("call %d = %v, want success", i, err)
		}
	}
	close(release)
	<-abandoned
	if got := n.Load(); got != 21 {
		t.Errorf("attempts = %d, want 21", got)
	}
}

// TestPropagation runs A → B → C, callguard on every side: what C refuses
// or sheds is neither retried by B nor by A, and A learns why.
func TestPropagation(t *testing.T) {
	tests := []struct {
		name         string
		giveErr      error // C's handler returns it
		wantCode     codes.Code
		wantPushback string
		wantRefusal  string
	}{
		{"loop", refusal("loop"), codes.FailedPrecondition, "", "loop"},
		{"shed", callguard.Overloaded(0, errors.New("full")), codes.Unavailable, "-1", "downstream"}, // passed on by C and B
		{"not found", status.Error(codes.NotFound, "gone"), codes.NotFound, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			server := func() grpc.ServerOption {
				return grpc.UnaryInterceptor(grpcx.UnaryServerInterceptor(bulkhead.New(8)))
			}
			c := &testServer{unary: func(context.Context, int64, *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
				return nil, tt.giveErr
			}}
			toC := dial(t, startServer(t, c, server()), withPolicy(retries(3, nil))...)
			b := &testServer{unary: func(ctx context.Context, _ int64, req *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
				return toC.UnaryCall(ctx, req)
			}}
			toB := dial(t, startServer(t, b, server()), withPolicy(retries(3, nil))...)
			var trailer metadata.MD
			_, err := toB.UnaryCall(testCtx(t), &testpb.SimpleRequest{}, grpc.Trailer(&trailer))
			checkMapped(t, "A → B", err, trailer, tt.wantCode, tt.wantPushback, tt.wantRefusal)
			if nb, nc := b.calls.Load(), c.calls.Load(); nb != 1 || nc != 1 {
				t.Errorf("calls at B, C = %d, %d, want 1, 1", nb, nc)
			}
		})
	}
}

// retryServiceConfig turns on gRPC's own retries: 3 attempts of every call
// that fails with Unavailable.
const retryServiceConfig = `{"methodConfig": [{
	"name": [{"service": "grpc.testing.TestService"}],
	"retryPolicy": {"maxAttempts": 3, "initialBackoff": "0.001s", "maxBackoff": "0.001s",
		"backoffMultiplier": 1, "retryableStatusCodes": ["UNAVAILABLE"]}
}]}`

// TestDialOptionsDisablesGRPCRetry checks that DialOptions switches off the
// retries of a service config given before it: 3 policy attempts reach the
// server 3 times, where the interceptors alone reach it 9 times.
func TestDialOptionsDisablesGRPCRetry(t *testing.T) {
	tests := []struct {
		name      string
		give      func(callguard.Policy) []grpc.DialOption
		wantCalls int64
	}{
		{"DialOptions", func(p callguard.Policy) []grpc.DialOption { return grpcx.DialOptions(p) }, 3},
		{"interceptors alone", func(p callguard.Policy) []grpc.DialOption { return withPolicy(p) }, 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := &testServer{unary: func(context.Context, int64, *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
				return nil, status.Error(codes.Unavailable, "down")
			}}
			opts := append([]grpc.DialOption{
				grpc.WithTransportCredentials(insecure.NewCredentials()),
				grpc.WithDefaultServiceConfig(retryServiceConfig),
			}, tt.give(retries(3, nil))...)
			conn, err := grpc.NewClient(startServer(t, ts), opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_, err = testpb.NewTestServiceClient(conn).UnaryCall(testCtx(t), &testpb.SimpleRequest{})
			if status.Code(err) != codes.Unavailable || ts.calls.Load() != tt.wantCalls {
				t.Errorf("UnaryCall = %v after %d calls, want Unavailable after %d", err, ts.calls.Load(), tt.wantCalls)
			}
		})
	}
}

// abandonedKey marks the context of the attempt that abandonFirst abandons.
type abandonedKey struct{}

// abandonFirst is a policy that gives up on the first attempt of a call at
// once, as timeout.WithAbandon does when its time is up, and leaves it
// running with a context marked with abandonedKey; it runs the others as
// they come.
var abandonFirst = callguard.PolicyFunc(func(next callguard.Handler) callguard.Handler {
	var n atomic.Int64
	return func(ctx context.Context, call func(context.Context) error) error {
		if n.Add(1) == 1 {
			go next(context.WithValue(ctx, abandonedKey{}, true), call) //nolint:errcheck // abandoned
			return timeout.ErrTimeout
		}
		return next(ctx, call)
	}
})

// TestAbandonedAttemptOwnReply checks that an attempt that a policy
// abandoned, and that ignores its context and succeeds after the call
// returned, does not write into the caller's reply.
func TestAbandonedAttemptOwnReply(t *testing.T) {
	ts := &testServer{unary: func(_ context.Context, n int64, _ *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
		return &testpb.SimpleResponse{Payload: payload(int(n))}, nil // n bytes for the nth call
	}}
	release, lateDone := make(chan struct{}), make(chan struct{})
	// Between the policy and gRPC: the abandoned attempt waits for release,
	// then ignores its context.
	stubborn := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if ctx.Value(abandonedKey{}) == nil {
			return invoker(ctx, method, req, reply, cc, opts...)
		}
		defer close(lateDone)
		<-release
		return invoker(context.WithoutCancel(ctx), method, req, reply, cc, opts...)
	}
	p := callguard.Chain(retries(2, nil), abandonFirst)
	c := dial(t, startServer(t, ts), grpc.WithChainUnaryInterceptor(grpcx.UnaryClientInterceptor(p), stubborn))

	resp, err := c.UnaryCall(testCtx(t), &testpb.SimpleRequest{})
	if err != nil {
		t.Fatal(err)
	}
	got := len(resp.GetPayload().GetBody()) // the second attempt's: the server's first call
	close(release)
	<-lateDone
	if after := len(resp.GetPayload().GetBody()); got != 1 || after != 1 || ts.calls.Load() != 2 {
		t.Errorf("reply payload = %d bytes, %d after the abandoned attempt ended (server calls %d); want 1, 1 (2)", got, after, ts.calls.Load())
	}
}
