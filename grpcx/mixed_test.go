package grpcx_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	testpb "google.golang.org/grpc/interop/grpc_testing"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/grpcx"
	"github.com/callguard/callguard/httpx"
	"github.com/callguard/callguard/ttl"
)

// TestMixedLoop wires an HTTP service h1, a gRPC service g and an HTTP
// service h2 into a cycle, h1 → g → h2 → h1, each calling the next with its
// incoming context through a client that retries 3 times. The loop is
// refused on h1's second arrival, before its handler runs; nothing is
// retried; and the first caller learns the whole loop, across both
// protocols.
func TestMixedLoop(t *testing.T) {
	var retried atomic.Int64
	var runsH1, runsH2 atomic.Int64
	ready := make(chan struct{})

	var h1, h2 *httptest.Server
	var h1Client, h2Client *http.Client
	var g testpb.TestServiceClient

	// get calls url with ctx through c and turns a failed response into
	// its error, as httpx.ResponseError has it.
	get := func(ctx context.Context, c *http.Client, url string) error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		return httpx.ResponseError(resp)
	}
	httpService := func(name string, runs *atomic.Int64, call func(ctx context.Context) error) *httptest.Server {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			<-ready
			runs.Add(1)
			if err := call(r.Context()); err != nil {
				httpx.Error(w, err)
				return
			}
			io.WriteString(w, name)
		})
		ts := httptest.NewServer(httpx.Handler(h, ttl.New(ttl.WithService(name))))
		t.Cleanup(ts.Close)
		return ts
	}
	h1 = httpService("h1", &runsH1, func(ctx context.Context) error {
		_, err := g.UnaryCall(ctx, &testpb.SimpleRequest{})
		return err
	})
	h2 = httpService("h2", &runsH2, func(ctx context.Context) error {
		return get(ctx, h1Client, h1.URL)
	})
	gs := &testServer{unary: func(ctx context.Context, _ int64, _ *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
		<-ready
		if err := get(ctx, h2Client, h2.URL); err != nil {
			return nil, err
		}
		return &testpb.SimpleResponse{}, nil
	}}
	in := grpcx.UnaryServerInterceptor(callguard.Chain(ttl.New(ttl.WithService("g"))))
	gAddr := startServer(t, gs, grpc.UnaryInterceptor(in))

	httpClient := func(ts *httptest.Server) *http.Client {
		return &http.Client{Transport: httpx.NewTransport(ts.Client().Transport, retries(3, &retried))}
	}
	h1Client, h2Client = httpClient(h1), httpClient(h2)
	g = dial(t, gAddr, grpc.WithUnaryInterceptor(grpcx.UnaryClientInterceptor(retries(3, &retried))))
	close(ready)

	err := get(testCtx(t), httpClient(h1), h1.URL)
	var le *ttl.LoopError
	if !errors.As(err, &le) || !slices.Equal(le.Path, []string{"h1", "g", "h2", "h1"}) {
		t.Errorf("Get(h1) = %v, want a *ttl.LoopError with path h1 → g → h2 → h1", err)
	}
	if got, want := []int64{runsH1.Load(), gs.calls.Load(), runsH2.Load()}, []int64{1, 1, 1}; !slices.Equal(got, want) {
		t.Errorf("handler runs (h1, g, h2) = %v, want %v", got, want)
	}
	if n := retried.Load(); n != 0 {
		t.Errorf("retries = %d, want 0", n)
	}
	t.Logf("h1's client got: %v", err)
}
