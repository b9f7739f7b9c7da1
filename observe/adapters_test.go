package observe_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/bulkhead"
	"github.com/callguard/callguard/grpcx"
	"github.com/callguard/callguard/httpx"
	"github.com/callguard/callguard/observe"
	"github.com/callguard/callguard/ttl"
)

// TestHTTPRejects: a real httpx.Handler on loopback whose bulkhead is
// full answers 503 itself; the hook reports it with the request id.
func TestHTTPRejects(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	o := observe.New(observe.WithSink(rec))
	bh := bulkhead.New(1)
	bh.TryAcquire()
	defer bh.Release()
	h := serverOf(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}), bh, o)
	srv := httptest.NewServer(h)
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	req.Header.Set("X-Request-Id", "http-1")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status = %d, want 503", resp.StatusCode)
	}
	ref := rec.of(observe.EventRefusal)
	if len(ref) != 1 || ref[0].Kind != observe.KindHTTPServer || ref[0].Name != "api" || ref[0].Reason != observe.ReasonFull || ref[0].RequestID != "http-1" {
		t.Errorf("refusals = %+v, want one of http.server api, reason full, request http-1", ref)
	}
}

// TestGRPCRejects: a real gRPC server on 127.0.0.1 with a loop check
// refuses a call whose path already holds the service; the hook reports a
// loop.
func TestGRPCRejects(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	o := observe.New(observe.WithSink(rec))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.UnaryInterceptor(grpcx.UnaryServerInterceptor(
		callguard.Chain(ttl.New(ttl.WithService("inventory"))), grpcx.OnReject(o.GRPCRejects("inventory")))))
	testpb.RegisterTestServiceServer(srv, testpb.UnimplementedTestServiceServer{})
	go func() { _ = srv.Serve(ln) }()
	defer srv.Stop()
	cc, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx := metadata.AppendToOutgoingContext(context.Background(), "callguard-path", "web,inventory", "callguard-hops", "5", "x-request-id", "grpc-1")
	_, err = testpb.NewTestServiceClient(cc).UnaryCall(ctx, &testpb.SimpleRequest{})
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("UnaryCall = %v, want FailedPrecondition (loop)", err)
	}
	ref := rec.of(observe.EventRefusal)
	if len(ref) != 1 || ref[0].Kind != observe.KindGRPCServer || ref[0].Reason != observe.ReasonLoop || ref[0].RequestID != "grpc-1" {
		t.Errorf("refusals = %+v, want one of grpc.server inventory, reason loop, request grpc-1", ref)
	}
}

func serverOf(h http.Handler, bh *bulkhead.Bulkhead, o *observe.Observer) http.Handler {
	return httpx.Handler(h, callguard.Chain(bh), httpx.OnReject(o.HTTPRejects("api")))
}
