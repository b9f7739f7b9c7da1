package grpcx_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"google.golang.org/grpc"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/grpcx"
	"github.com/callguard/callguard/httpx"
)

// marks records, per service, whether its handler's context was synthetic
// and what the synthetic header or metadata said on the wire.
type marks struct {
	mu   sync.Mutex
	seen map[string]mark
}

// A mark is what one service saw.
type mark struct {
	synthetic bool   // callguard.IsSynthetic of the handler's context
	wire      string // the first value of the header or metadata
}

func (m *marks) record(service string, ctx context.Context, wire []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.seen == nil {
		m.seen = map[string]mark{}
	}
	v := ""
	if len(wire) > 0 {
		v = wire[0]
	}
	m.seen[service] = mark{callguard.IsSynthetic(ctx), v}
}

func (m *marks) get(service string) (synthetic bool, wire string, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.seen[service]
	return s.synthetic, s.wire, ok
}

// TestSyntheticMixed sends requests through three real services on
// loopback, HTTP h1 → gRPC g → HTTP h2, each calling the next with its
// handler's context: a synthetic request is synthetic in every handler,
// and carried on the wire of each hop; any other request is synthetic in
// none. With the sending code of an adapter commented out, h1 still sees
// the mark (from the client) and g and h2 do not.
func TestSyntheticMixed(t *testing.T) {
	var m marks
	h2 := httptest.NewServer(httpx.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.record("h2", r.Context(), r.Header.Values("Callguard-Synthetic"))
		io.WriteString(w, "h2")
	}), nil))
	t.Cleanup(h2.Close)
	h2Client := &http.Client{Transport: httpx.NewTransport(h2.Client().Transport, nil)}

	gs := &testServer{unary: func(ctx context.Context, _ int64, _ *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		m.record("g", ctx, md.Get("callguard-synthetic"))
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, h2.URL, nil)
		if err != nil {
			return nil, err
		}
		resp, err := h2Client.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		_, err = io.Copy(io.Discard, resp.Body)
		return &testpb.SimpleResponse{}, err
	}}
	g := dial(t, startServer(t, gs, grpc.UnaryInterceptor(grpcx.UnaryServerInterceptor(nil))),
		grpcx.DialOptions(nil)...)

	h1 := httptest.NewServer(httpx.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.record("h1", r.Context(), r.Header.Values("Callguard-Synthetic"))
		if _, err := g.UnaryCall(r.Context(), &testpb.SimpleRequest{}); err != nil {
			httpx.Error(w, err)
			return
		}
		io.WriteString(w, "h1")
	}), nil))
	t.Cleanup(h1.Close)
	client := &http.Client{Transport: httpx.NewTransport(h1.Client().Transport, nil)}

	for _, synthetic := range []bool{true, false} {
		ctx := testCtx(t)
		want := ""
		if synthetic {
			ctx, want = callguard.ContextWithSynthetic(ctx), "1"
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, h1.URL, nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("Get(h1) = %v", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("Get(h1) status = %d, want 200", resp.StatusCode)
		}
		for _, svc := range []string{"h1", "g", "h2"} {
			got, wire, ok := m.get(svc)
			if !ok || got != synthetic || wire != want {
				t.Errorf("sent synthetic=%v: %s saw IsSynthetic=%v, wire %q (ran %v), want %v, %q", synthetic, svc, got, wire, ok, synthetic, want)
			}
		}
	}
}

// TestSyntheticEdge: an Edge server ignores a client's synthetic mark and
// removes it from the incoming metadata, so that a handler that copies
// its metadata on does not pass it on; a server that trusts its callers
// takes it.
func TestSyntheticEdge(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts []grpcx.ServerOption
		want bool
	}{
		{"edge", []grpcx.ServerOption{grpcx.Edge()}, false},
		{"trusted", nil, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var m marks
			ts := &testServer{unary: func(ctx context.Context, _ int64, _ *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
				md, _ := metadata.FromIncomingContext(ctx)
				m.record("s", ctx, md.Get("callguard-synthetic"))
				return &testpb.SimpleResponse{}, nil
			}}
			in := grpcx.UnaryServerInterceptor(nil, tt.opts...)
			c := dial(t, startServer(t, ts, grpc.UnaryInterceptor(in))) // a plain client: its metadata as it is
			ctx := metadata.AppendToOutgoingContext(testCtx(t), "callguard-synthetic", "1")
			if _, err := c.UnaryCall(ctx, &testpb.SimpleRequest{}); err != nil {
				t.Fatal(err)
			}
			got, wire, _ := m.get("s")
			if got != tt.want || (wire == "1") != tt.want {
				t.Errorf("IsSynthetic, incoming metadata = %v, %q, want %v, and the metadata kept only if so", got, wire, tt.want)
			}
		})
	}
}

// TestSyntheticWithSynthetic: an Edge server marks the calls that its
// WithSynthetic function recognises, here by metadata of its own; a
// client's bare callguard-synthetic counts for nothing.
func TestSyntheticWithSynthetic(t *testing.T) {
	var m marks
	ts := &testServer{unary: func(ctx context.Context, _ int64, _ *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
		m.record("s", ctx, nil)
		return &testpb.SimpleResponse{}, nil
	}}
	in := grpcx.UnaryServerInterceptor(nil, grpcx.Edge(), grpcx.WithSynthetic(func(ctx context.Context, method string) bool {
		v := metadata.ValueFromIncomingContext(ctx, "x-prober-token")
		return len(v) == 1 && v[0] == "s3cret" && method == "/grpc.testing.TestService/UnaryCall"
	}))
	c := dial(t, startServer(t, ts, grpc.UnaryInterceptor(in)))
	for _, tt := range []struct {
		name string
		kv   []string
		want bool
	}{
		{"token", []string{"x-prober-token", "s3cret"}, true},
		{"wrong token", []string{"x-prober-token", "guess"}, false},
		{"bare claim", []string{"callguard-synthetic", "1"}, false},
	} {
		ctx := metadata.AppendToOutgoingContext(testCtx(t), tt.kv...)
		if _, err := c.UnaryCall(ctx, &testpb.SimpleRequest{}); err != nil {
			t.Fatal(err)
		}
		if got, _, _ := m.get("s"); got != tt.want {
			t.Errorf("%s: IsSynthetic = %v, want %v", tt.name, got, tt.want)
		}
	}
}
