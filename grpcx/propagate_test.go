package grpcx_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/grpcx"
	"github.com/callguard/callguard/loadshed"
	"github.com/callguard/callguard/ttl"
)

// A tier is one service of a test topology: a real server on 127.0.0.1
// whose handler calls the next tier, if any, with its incoming context,
// through a client that retries 3 times.
type tier struct {
	ts   *testServer
	addr string
	next testpb.TestServiceClient // set before the first call; see chain
}

// chain starts one server per name, each with a TTL of that name first in
// its policy and the given server options, and wires tier i to tier
// next(i) (none when next returns -1). It returns the tiers and a client
// of the first, which retries as the tiers' clients do, counting retries
// in *retried.
func chain(t *testing.T, names []string, next func(i int) int, retried *atomic.Int64, opts ...grpcx.ServerOption) ([]*tier, testpb.TestServiceClient) {
	t.Helper()
	tiers := make([]*tier, len(names))
	ready := make(chan struct{})
	for i, name := range names {
		tr := &tier{ts: &testServer{}}
		tr.ts.unary = func(ctx context.Context, _ int64, req *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
			<-ready
			if tr.next == nil {
				return &testpb.SimpleResponse{}, nil
			}
			return tr.next.UnaryCall(ctx, req)
		}
		in := grpcx.UnaryServerInterceptor(callguard.Chain(ttl.New(ttl.WithService(name), ttl.WithDefaultHops(4))), opts...)
		tr.addr = startServer(t, tr.ts, grpc.UnaryInterceptor(in))
		tiers[i] = tr
	}
	client := func(addr string) testpb.TestServiceClient {
		return dial(t, addr, grpc.WithUnaryInterceptor(grpcx.UnaryClientInterceptor(retries(3, retried))))
	}
	for i, tr := range tiers {
		if j := next(i); j >= 0 {
			tr.next = client(tiers[j].addr)
		}
	}
	close(ready)
	return tiers, client(tiers[0].addr)
}

func handlerRuns(tiers []*tier) []int64 {
	var n []int64
	for _, tr := range tiers {
		n = append(n, tr.ts.calls.Load())
	}
	return n
}

func TestLoopOfThree(t *testing.T) {
	var retried atomic.Int64
	tiers, a := chain(t, []string{"a", "b", "c"}, func(i int) int { return (i + 1) % 3 }, &retried)
	_, err := a.UnaryCall(testCtx(t), &testpb.SimpleRequest{})

	if got := status.Code(err); got != codes.FailedPrecondition {
		t.Errorf("UnaryCall(A) code = %v, want FailedPrecondition (err %v)", got, err)
	}
	var le *ttl.LoopError
	if !errors.As(err, &le) {
		t.Fatalf("UnaryCall(A) = %v (%T), want a *ttl.LoopError", err, err)
	}
	if want := []string{"a", "b", "c", "a"}; !slices.Equal(le.Path, want) {
		t.Errorf("LoopError.Path = %q, want %q", le.Path, want)
	}
	if !errors.Is(err, ttl.ErrLoop) || !callguard.IsPermanent(err) {
		t.Errorf("UnaryCall(A) = %v: Is(ErrLoop) = %v, IsPermanent = %v, want true, true",
			err, errors.Is(err, ttl.ErrLoop), callguard.IsPermanent(err))
	}
	// A's second arrival is refused before its handler runs.
	if got, want := handlerRuns(tiers), []int64{1, 1, 1}; !slices.Equal(got, want) {
		t.Errorf("handler runs (A, B, C) = %v, want %v", got, want)
	}
	if n := retried.Load(); n != 0 {
		t.Errorf("retries = %d, want 0", n)
	}
	t.Logf("A's client got: %v", err)
}

func TestHopBudget(t *testing.T) {
	const budget = 4 // chain's ttl.WithDefaultHops
	names := make([]string, budget+3)
	for i := range names {
		names[i] = fmt.Sprintf("s%d", i)
	}
	var retried atomic.Int64
	tiers, _ := chain(t, names, func(i int) int {
		if i+1 < len(names) {
			return i + 1
		}
		return -1
	}, &retried)
	// A caller without callguard: s0 gives the request its default budget.
	var trailer metadata.MD
	_, err := dial(t, tiers[0].addr).UnaryCall(testCtx(t), &testpb.SimpleRequest{}, grpc.Trailer(&trailer))

	if status.Code(err) != codes.FailedPrecondition || !slices.Equal(trailer["callguard-error"], []string{"hops"}) {
		t.Errorf("UnaryCall = %v, trailer %v, want FailedPrecondition, callguard-error: hops", err, trailer)
	}
	if got := grpcx.Classify(err, trailer); !errors.Is(got, ttl.ErrExhausted) || !callguard.IsPermanent(got) {
		t.Errorf("Classify(%v) = %v, want permanent ttl.ErrExhausted", err, got)
	}
	// budget+1 handlers run; the next call is never sent.
	want := []int64{1, 1, 1, 1, 1, 0, 0}
	if got := handlerRuns(tiers); !slices.Equal(got, want) {
		t.Errorf("handler runs = %v, want %v", got, want)
	}
	if n := retried.Load(); n != 0 {
		t.Errorf("retries = %d, want 0", n)
	}
}

// seen is what a test handler saw in its context.
type seen struct {
	mu   sync.Mutex
	hops int
	path []string
	left time.Duration // remaining time, or -1 for no deadline
	id   string
	prio loadshed.Priority
}

func (s *seen) record(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hops, _ = ttl.FromContext(ctx)
	s.path = ttl.PathFromContext(ctx)
	s.left = -1
	if dl, ok := ctx.Deadline(); ok {
		s.left = time.Until(dl)
	}
	s.id = callguard.RequestIDFromContext(ctx)
	s.prio = loadshed.FromContext(ctx)
}

func (s *seen) get() seen {
	s.mu.Lock()
	defer s.mu.Unlock()
	return seen{hops: s.hops, path: s.path, left: s.left, id: s.id, prio: s.prio}
}

// recorder starts a server with a TTL named svc and opts whose handler
// records its context, and returns a client of it without interceptors.
func recorder(t *testing.T, svc string, opts ...grpcx.ServerOption) (*seen, *testServer, testpb.TestServiceClient) {
	t.Helper()
	s, ts, addr := recordingServer(t, svc, opts...)
	return s, ts, dial(t, addr)
}

// recordingServer starts recorder's server and returns its address.
func recordingServer(t *testing.T, svc string, opts ...grpcx.ServerOption) (*seen, *testServer, string) {
	t.Helper()
	s := new(seen)
	ts := &testServer{unary: func(ctx context.Context, _ int64, _ *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
		s.record(ctx)
		return &testpb.SimpleResponse{}, nil
	}}
	in := grpcx.UnaryServerInterceptor(ttl.New(ttl.WithService(svc)), opts...)
	return s, ts, startServer(t, ts, grpc.UnaryInterceptor(in))
}

func TestEdgeSpoofing(t *testing.T) {
	spoof := func(t *testing.T) context.Context {
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		t.Cleanup(cancel)
		return metadata.AppendToOutgoingContext(ctx,
			ttl.HopsMetadata, "255", ttl.PathMetadata, "edge", "callguard-priority", "critical")
	}
	t.Run("edge", func(t *testing.T) {
		s, _, c := recorder(t, "edge", grpcx.Edge(), grpcx.WithMaxDeadline(time.Second))
		if _, err := c.UnaryCall(spoof(t), &testpb.SimpleRequest{}); err != nil {
			t.Fatalf("UnaryCall = %v, want nil: own id in the path is no loop at the edge", err)
		}
		got := s.get()
		if got.hops != ttl.DefaultHops || got.path != nil {
			t.Errorf("hops, path = %d, %q, want %d, none", got.hops, got.path, ttl.DefaultHops)
		}
		if got.left <= 0 || got.left > time.Second {
			t.Errorf("remaining time = %v, want in (0, 1s]: an hour clamped to the max deadline", got.left)
		}
		if got.prio != loadshed.Default {
			t.Errorf("priority = %v, want default: an edge ignores the client's claim", got.prio)
		}
	})
	t.Run("trusted", func(t *testing.T) {
		_, ts, c := recorder(t, "edge", grpcx.WithMaxDeadline(time.Second))
		_, err := c.UnaryCall(spoof(t), &testpb.SimpleRequest{})
		if status.Code(err) != codes.FailedPrecondition {
			t.Errorf("UnaryCall = %v, want a loop refusal", err)
		}
		if n := ts.calls.Load(); n != 0 {
			t.Errorf("handler runs = %d, want 0", n)
		}
	})
	t.Run("trusted hops", func(t *testing.T) {
		s, _, c := recorder(t, "svc")
		if _, err := c.UnaryCall(spoof(t), &testpb.SimpleRequest{}); err != nil {
			t.Fatal(err)
		}
		if got := s.get(); got.hops != 255 || !slices.Equal(got.path, []string{"edge"}) || got.left < 59*time.Minute || got.prio != loadshed.Critical {
			t.Errorf("hops, path, left, priority = %d, %q, %v, %v, want 255, [edge], about 1h, critical", got.hops, got.path, got.left, got.prio)
		}
	})
}

func TestDeadlines(t *testing.T) {
	tests := []struct {
		name     string
		give     []grpcx.ServerOption
		giveWait time.Duration // the client's timeout, 0 for none
		wantMin  time.Duration
		wantMax  time.Duration
	}{
		{"kept", nil, 10 * time.Second, 9 * time.Second, 10 * time.Second},
		{"margin", []grpcx.ServerOption{grpcx.WithDeadlineMargin(2 * time.Second)}, 10 * time.Second, 7 * time.Second, 8 * time.Second},
		{"max", []grpcx.ServerOption{grpcx.WithMaxDeadline(time.Second)}, 10 * time.Second, 0, time.Second},
		{"max without deadline", []grpcx.ServerOption{grpcx.WithMaxDeadline(time.Second)}, 0, 0, time.Second},
		{"none", nil, 0, -1, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := new(seen)
			ts := &testServer{unary: func(ctx context.Context, _ int64, _ *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
				s.record(ctx)
				return &testpb.SimpleResponse{}, nil
			}}
			in := grpcx.UnaryServerInterceptor(ttl.New(), tt.give...)
			// Through the client interceptor: it must keep the deadline.
			c := dial(t, startServer(t, ts, grpc.UnaryInterceptor(in)),
				grpc.WithUnaryInterceptor(grpcx.UnaryClientInterceptor(retries(3, nil))))
			ctx := testCtx(t)
			if tt.giveWait > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.giveWait)
				defer cancel()
			} else {
				ctx = context.WithoutCancel(ctx)
			}
			if _, err := c.UnaryCall(ctx, &testpb.SimpleRequest{}); err != nil {
				t.Fatal(err)
			}
			if got := s.get().left; got < tt.wantMin || got > tt.wantMax {
				t.Errorf("handler's remaining time = %v, want in [%v, %v]", got, tt.wantMin, tt.wantMax)
			}
		})
	}
}

func TestMinServiceTime(t *testing.T) {
	_, ts, c := recorder(t, "svc", grpcx.WithMinServiceTime(time.Second))
	short, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	for range 3 {
		if _, err := c.UnaryCall(short, &testpb.SimpleRequest{}); status.Code(err) != codes.DeadlineExceeded {
			t.Errorf("UnaryCall(100ms left) = %v, want DeadlineExceeded", err)
		}
	}
	if n := ts.calls.Load(); n != 0 {
		t.Errorf("handler runs = %d, want 0", n)
	}
	long, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, ctx := range []context.Context{long, context.Background()} {
		if _, err := c.UnaryCall(ctx, &testpb.SimpleRequest{}); err != nil {
			t.Errorf("UnaryCall = %v, want nil", err)
		}
	}
	if n := ts.calls.Load(); n != 2 {
		t.Errorf("handler runs = %d, want 2", n)
	}
}

func TestRequestID(t *testing.T) {
	// A (WithRequestIDs) → B; each records the id it sees.
	var sa, sb seen
	tsB := &testServer{unary: func(ctx context.Context, _ int64, _ *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
		sb.record(ctx)
		return &testpb.SimpleResponse{}, nil
	}}
	b := dial(t, startServer(t, tsB, grpc.UnaryInterceptor(grpcx.UnaryServerInterceptor(ttl.New(ttl.WithService("b"))))),
		grpc.WithUnaryInterceptor(grpcx.UnaryClientInterceptor(retries(3, nil))))
	tsA := &testServer{unary: func(ctx context.Context, _ int64, req *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
		sa.record(ctx)
		return b.UnaryCall(ctx, req)
	}}
	inA := grpcx.UnaryServerInterceptor(ttl.New(ttl.WithService("a")), grpcx.WithRequestIDs())
	a := dial(t, startServer(t, tsA, grpc.UnaryInterceptor(inA)))

	tests := []struct {
		name   string
		giveID string // "" for none
		wantID string // "" for a new one
	}{
		{"created", "", ""},
		{"kept", "req-42", "req-42"},
		{"too long", strings.Repeat("x", 129), ""},
		{"longest", strings.Repeat("y", 128), strings.Repeat("y", 128)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testCtx(t)
			if tt.giveID != "" {
				ctx = metadata.AppendToOutgoingContext(ctx, "x-request-id", tt.giveID)
			}
			if _, err := a.UnaryCall(ctx, &testpb.SimpleRequest{}); err != nil {
				t.Fatal(err)
			}
			idA, idB := sa.get().id, sb.get().id
			if idA == "" || idA != idB || tt.wantID != "" && idA != tt.wantID || tt.wantID == "" && idA == tt.giveID {
				t.Errorf("request ids (A, B) = %q, %q, want %q (\"\" for a new one)", idA, idB, tt.wantID)
			}
			if got := sb.get().path; !slices.Equal(got, []string{"a"}) {
				t.Errorf("B's path = %q, want [a]", got)
			}
		})
	}
}

func TestStreamPropagation(t *testing.T) {
	s := new(seen)
	ts := &testServer{output: func(_ int64, req *testpb.StreamingOutputCallRequest, ss testpb.TestService_StreamingOutputCallServer) error {
		s.record(ss.Context())
		return sendResponses(req, ss)
	}}
	in := grpcx.StreamServerInterceptor(ttl.New(ttl.WithService("b")))
	c := dial(t, startServer(t, ts, grpc.StreamInterceptor(in)), withPolicy(retries(3, nil))...)
	recv := func(ctx context.Context) error {
		st, err := c.StreamingOutputCall(ctx, outputRequest(1))
		if err != nil {
			return err
		}
		_, err = st.Recv()
		return err
	}

	// As a handler of service a would call, with a's TTL state.
	err := ttl.New(ttl.WithService("a")).Do(callguard.ContextWithRequestID(testCtx(t), "r1"), recv)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.get(); got.hops != ttl.DefaultHops-1 || !slices.Equal(got.path, []string{"a"}) || got.id != "r1" {
		t.Errorf("hops, path, id = %d, %q, %q, want %d, [a], r1", got.hops, got.path, got.id, ttl.DefaultHops-1)
	}

	err = recv(ttl.NewContext(testCtx(t), 0))
	if !errors.Is(err, ttl.ErrExhausted) || status.Code(err) != codes.FailedPrecondition {
		t.Errorf("StreamingOutputCall(no hops) = %v, want ttl.ErrExhausted, FailedPrecondition", err)
	}
	if n := ts.calls.Load(); n != 1 {
		t.Errorf("handler runs = %d, want 1", n)
	}
}

func TestPriorityPropagation(t *testing.T) {
	s, _, addr := recordingServer(t, "callee")
	c := dial(t, addr, grpc.WithUnaryInterceptor(grpcx.UnaryClientInterceptor(callguard.Chain())))
	for _, p := range []loadshed.Priority{loadshed.Critical, loadshed.Sheddable, loadshed.Default} {
		ctx := loadshed.NewContext(context.Background(), p)
		if _, err := c.UnaryCall(ctx, &testpb.SimpleRequest{}); err != nil {
			t.Fatalf("UnaryCall(%v) = %v", p, err)
		}
		if got := s.get().prio; got != p {
			t.Errorf("server saw priority %v, want %v", got, p)
		}
	}
}

func TestServerOptionsPanic(t *testing.T) {
	tests := []struct {
		name string
		give grpcx.ServerOption
	}{
		{"max deadline", grpcx.WithMaxDeadline(-1)},
		{"deadline margin", grpcx.WithDeadlineMargin(-1)},
		{"min service time", grpcx.WithMinServiceTime(-1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "grpcx: "+tt.name) {
					t.Errorf("UnaryServerInterceptor(%s -1) panicked with %v, want a grpcx: %s message", tt.name, r, tt.name)
				}
			}()
			grpcx.UnaryServerInterceptor(ttl.New(), tt.give)
		})
	}
}

func TestClassifyRefusal(t *testing.T) {
	refused := status.Error(codes.FailedPrecondition, "ttl: call loop")
	tests := []struct {
		name      string
		give      metadata.MD
		wantLoop  bool
		wantPath  []string
		wantHops  bool
		wantCoded string
	}{
		{"loop with path", metadata.Pairs("callguard-error", "loop", "callguard-path", "a,b,a"), true, []string{"a", "b", "a"}, false, "loop"},
		{"loop without path", metadata.Pairs("callguard-error", "loop"), true, nil, false, "loop"},
		{"loop with bad path", metadata.Pairs("callguard-error", "loop", "callguard-path", "a,,b!"), true, nil, false, "loop"},
		{"hops", metadata.Pairs("callguard-error", "hops"), false, nil, true, "hops"},
		{"other", metadata.Pairs("callguard-error", "other"), false, nil, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := grpcx.Classify(refused, tt.give)
			var le *ttl.LoopError
			gotLoop := errors.As(err, &le)
			var coded interface{ CallguardError() string }
			gotCoded := ""
			if errors.As(err, &coded) {
				gotCoded = coded.CallguardError()
			}
			if gotLoop != tt.wantLoop || gotLoop && !slices.Equal(le.Path, tt.wantPath) ||
				errors.Is(err, ttl.ErrExhausted) != tt.wantHops || gotCoded != tt.wantCoded ||
				!callguard.IsPermanent(err) || status.Code(err) != codes.FailedPrecondition {
				t.Errorf("Classify(%v, %v) = %v: loop %v (path %q), hops %v, coded %q, want %v (%q), %v, %q, permanent FailedPrecondition",
					refused, tt.give, err, gotLoop, pathOf(le), errors.Is(err, ttl.ErrExhausted), gotCoded,
					tt.wantLoop, tt.wantPath, tt.wantHops, tt.wantCoded)
			}
		})
	}
}

func pathOf(le *ttl.LoopError) []string {
	if le == nil {
		return nil
	}
	return le.Path
}

// TestTooLateNotRetried checks that a refusal for want of time travels up
// as "don't retry": edge → front → back, back refusing calls with less than
// a second left. Each tier sees the call once, no client retries, and the
// edge gets DeadlineExceeded, not an overload.
func TestTooLateNotRetried(t *testing.T) {
	var arrivals [2]atomic.Int64 // front, back
	counting := func(n *atomic.Int64) grpc.UnaryServerInterceptor {
		return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			n.Add(1)
			return h(ctx, req)
		}
	}
	tsBack := &testServer{}
	var retried atomic.Int64
	back := dial(t, startServer(t, tsBack, grpc.ChainUnaryInterceptor(counting(&arrivals[1]),
		grpcx.UnaryServerInterceptor(ttl.New(ttl.WithService("back")), grpcx.WithMinServiceTime(time.Second)))),
		grpc.WithUnaryInterceptor(grpcx.UnaryClientInterceptor(retries(3, &retried))))
	tsFront := &testServer{unary: func(ctx context.Context, _ int64, req *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
		return back.UnaryCall(ctx, req)
	}}
	front := dial(t, startServer(t, tsFront, grpc.ChainUnaryInterceptor(counting(&arrivals[0]),
		grpcx.UnaryServerInterceptor(ttl.New(ttl.WithService("front"))))),
		grpc.WithUnaryInterceptor(grpcx.UnaryClientInterceptor(retries(3, &retried))))

	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, err := front.UnaryCall(ctx, &testpb.SimpleRequest{})
	if status.Code(err) != codes.DeadlineExceeded || errors.Is(err, callguard.ErrOverloaded) {
		t.Errorf("UnaryCall = %v, want DeadlineExceeded, not overloaded", err)
	}
	if callguard.Retryable(err) || !errors.Is(err, loadshed.ErrDeadline) {
		t.Errorf("UnaryCall = %v: want \"don't retry\", matching loadshed.ErrDeadline", err)
	}
	if msg := status.Convert(err).Message(); !strings.HasPrefix(msg, "grpcx: ") || strings.Contains(msg, "rpc error") {
		t.Errorf("status message %q, want back's refusal passed up unchanged", msg)
	}
	if f, b, r := arrivals[0].Load(), arrivals[1].Load(), retried.Load(); f != 1 || b != 1 || r != 0 || tsBack.calls.Load() != 0 {
		t.Errorf("arrivals front %d, back %d, retries %d, back handler runs %d; want 1, 1, 0, 0", f, b, r, tsBack.calls.Load())
	}
}

// TestEdgeCopiedMetadata checks that a handler at an Edge server that
// copies its incoming metadata to an outgoing call does not pass the
// client's hops, path and priority on to a server that trusts its callers.
func TestEdgeCopiedMetadata(t *testing.T) {
	var md atomic.Value // the downstream handler's incoming metadata
	s := new(seen)
	tsDB := &testServer{unary: func(ctx context.Context, _ int64, _ *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
		s.record(ctx)
		in, _ := metadata.FromIncomingContext(ctx)
		md.Store(in)
		return &testpb.SimpleResponse{}, nil
	}}
	db := dial(t, startServer(t, tsDB, grpc.UnaryInterceptor(grpcx.UnaryServerInterceptor(ttl.New(ttl.WithService("db"))))),
		withPolicy(callguard.Chain())...)
	copyOn := func(ctx context.Context) error {
		in, _ := metadata.FromIncomingContext(ctx)
		_, err := db.UnaryCall(metadata.NewOutgoingContext(ctx, in), &testpb.SimpleRequest{})
		return err
	}
	ts := &testServer{
		unary: func(ctx context.Context, _ int64, _ *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
			return &testpb.SimpleResponse{}, copyOn(ctx)
		},
		output: func(_ int64, _ *testpb.StreamingOutputCallRequest, ss testpb.TestService_StreamingOutputCallServer) error {
			return copyOn(ss.Context())
		},
	}
	opts := []grpcx.ServerOption{grpcx.Edge(), grpcx.WithMaxDeadline(time.Second)}
	edge := dial(t, startServer(t, ts,
		grpc.UnaryInterceptor(grpcx.UnaryServerInterceptor(ttl.New(ttl.WithService("edge")), opts...)),
		grpc.StreamInterceptor(grpcx.StreamServerInterceptor(ttl.New(ttl.WithService("edge")), opts...))))
	calls := map[string]func(ctx context.Context) error{
		"unary": func(ctx context.Context) error {
			_, err := edge.UnaryCall(ctx, &testpb.SimpleRequest{})
			return err
		},
		"stream": func(ctx context.Context) error {
			st, err := edge.StreamingOutputCall(ctx, outputRequest())
			if err != nil {
				return err
			}
			_, err = recvAll(st)
			return err
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			ctx := metadata.AppendToOutgoingContext(testCtx(t), "x-custom", "kept",
				ttl.HopsMetadata, "255", ttl.PathMetadata, "spoof", loadshed.PriorityMetadata, "critical")
			if err := call(ctx); err != nil {
				t.Fatal(err)
			}
			got, in := s.get(), md.Load().(metadata.MD)
			if got.prio != loadshed.Default || got.hops != ttl.DefaultHops-1 || !slices.Equal(got.path, []string{"edge"}) {
				t.Errorf("downstream priority, hops, path = %v, %d, %q, want default, %d, [edge]", got.prio, got.hops, got.path, ttl.DefaultHops-1)
			}
			if v := in.Get(loadshed.PriorityMetadata); v != nil {
				t.Errorf("downstream %s = %q, want none", loadshed.PriorityMetadata, v)
			}
			if v := in.Get("x-custom"); !slices.Equal(v, []string{"kept"}) {
				t.Errorf("downstream x-custom = %q, want [kept]: other metadata is the handler's to copy", v)
			}
		})
	}
}

// TestEdgeHidesLoopPath checks that a loop found behind an Edge server
// reaches its client as a loop refusal that names no internal service.
func TestEdgeHidesLoopPath(t *testing.T) {
	_, internal := chain(t, []string{"orders-db-10.0.3.7", "billing-internal"}, func(i int) int { return (i + 1) % 2 }, nil)
	ts := &testServer{
		unary: func(ctx context.Context, _ int64, req *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
			return internal.UnaryCall(ctx, req)
		},
		output: func(_ int64, _ *testpb.StreamingOutputCallRequest, ss testpb.TestService_StreamingOutputCallServer) error {
			_, err := internal.UnaryCall(ss.Context(), &testpb.SimpleRequest{})
			return err
		},
	}
	in := ttl.New(ttl.WithService("edge"))
	edge := dial(t, startServer(t, ts,
		grpc.UnaryInterceptor(grpcx.UnaryServerInterceptor(in, grpcx.Edge())),
		grpc.StreamInterceptor(grpcx.StreamServerInterceptor(in, grpcx.Edge()))))
	calls := map[string]func(ctx context.Context) (metadata.MD, error){
		"unary": func(ctx context.Context) (metadata.MD, error) {
			var tr metadata.MD
			_, err := edge.UnaryCall(ctx, &testpb.SimpleRequest{}, grpc.Trailer(&tr))
			return tr, err
		},
		"stream": func(ctx context.Context) (metadata.MD, error) {
			st, err := edge.StreamingOutputCall(ctx, outputRequest())
			if err != nil {
				return nil, err
			}
			_, err = recvAll(st)
			return st.Trailer(), err
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			tr, err := call(testCtx(t))
			st, _ := status.FromError(err)
			if st.Code() != codes.FailedPrecondition || !slices.Equal(tr.Get("callguard-error"), []string{"loop"}) {
				t.Errorf("call = %v, callguard-error %q, want FailedPrecondition, loop", err, tr.Get("callguard-error"))
			}
			if p := tr.Get(ttl.PathMetadata); p != nil || strings.Contains(st.Message(), "billing") || strings.Contains(st.Message(), "orders") {
				t.Errorf("call = %v, callguard-path %q, want no internal service named", err, p)
			}
		})
	}
}
