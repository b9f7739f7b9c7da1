package grpcx_test

import (
	"context"
	"errors"
	"strings"
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
)

func TestErrorsCarryRequestID(t *testing.T) {
	ts := &testServer{unary: func(context.Context, int64, *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
		return nil, status.Error(codes.NotFound, "no such thing")
	}}
	c := dial(t, startServer(t, ts), grpc.WithUnaryInterceptor(grpcx.UnaryClientInterceptor(callguard.Chain())))
	tests := []struct {
		name   string
		ctx    context.Context
		wantID string
	}{
		{"with id", callguard.ContextWithRequestID(context.Background(), "req-3"), "req-3"},
		{"without", context.Background(), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.UnaryCall(tt.ctx, &testpb.SimpleRequest{})
			if st, _ := status.FromError(err); status.Code(err) != codes.NotFound || st.Message() != "no such thing" {
				t.Errorf("status = %v, want NotFound: no such thing, the server's", st)
			}
			var rid *callguard.RequestIDError
			got := errors.As(err, &rid)
			if got != (tt.wantID != "") || (got && (rid.ID != tt.wantID || !strings.Contains(err.Error(), "[request "+tt.wantID+"]"))) {
				t.Errorf("UnaryCall = %v, want request id %q in it", err, tt.wantID)
			}
		})
	}
}

// TestServerEchoesRequestID checks that both server interceptors put the
// first valid x-request-id, or a new one, in the handler's context and echo
// it in the response header, refusals included.
func TestServerEchoesRequestID(t *testing.T) {
	tests := []struct {
		name    string
		giveIDs []string
		giveMin time.Duration // WithMinServiceTime: an hour refuses the call
		wantID  string        // "new": a new id, the handler's
	}{
		{"one", []string{"req-1"}, 0, "req-1"},
		{"several: the first", []string{"req-1", "req-2"}, 0, "req-1"},
		{"none: a new one", nil, 0, "new"},
		{"invalid: a new one", []string{"bad id"}, 0, "new"},
		{"refused", []string{"req-1"}, time.Hour, "req-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var unaryID, streamID atomic.Value
			ts := &testServer{
				unary: func(ctx context.Context, _ int64, _ *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
					unaryID.Store(callguard.RequestIDFromContext(ctx))
					return &testpb.SimpleResponse{}, nil
				},
				output: func(_ int64, req *testpb.StreamingOutputCallRequest, s testpb.TestService_StreamingOutputCallServer) error {
					streamID.Store(callguard.RequestIDFromContext(s.Context()))
					return sendResponses(req, s)
				},
			}
			opts := []grpcx.ServerOption{grpcx.WithRequestIDs(), grpcx.WithMinServiceTime(tt.giveMin)}
			c := dial(t, startServer(t, ts,
				grpc.UnaryInterceptor(grpcx.UnaryServerInterceptor(callguard.Chain(), opts...)),
				grpc.StreamInterceptor(grpcx.StreamServerInterceptor(callguard.Chain(), opts...))))
			ctx := testCtx(t)
			for _, id := range tt.giveIDs {
				ctx = metadata.AppendToOutgoingContext(ctx, "x-request-id", id)
			}
			wantErr := tt.giveMin > 0

			var header metadata.MD
			_, err := c.UnaryCall(ctx, &testpb.SimpleRequest{}, grpc.Header(&header))
			if (err != nil) != wantErr {
				t.Fatalf("UnaryCall = %v, want error %v", err, wantErr)
			}
			checkEcho(t, "unary", header, tt.wantID, unaryID.Load())

			s, err := c.StreamingOutputCall(ctx, outputRequest(1))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := recvAll(s); (err != nil) != wantErr {
				t.Fatalf("StreamingOutputCall = %v, want error %v", err, wantErr)
			}
			header, err = s.Header()
			if err != nil {
				t.Fatal(err)
			}
			checkEcho(t, "stream", header, tt.wantID, streamID.Load())
		})
	}
}

// checkEcho checks the x-request-id of header against want, or, when want
// is "new", against handlerID, which must be a new id.
func checkEcho(t *testing.T, kind string, header metadata.MD, want string, handlerID any) {
	t.Helper()
	got := header.Get("x-request-id")
	if want == "new" {
		id, _ := handlerID.(string)
		if len(got) != 1 || !callguard.ValidRequestID(got[0]) || got[0] != id {
			t.Errorf("%s: echoed x-request-id = %q, want the handler's new id %q", kind, got, id)
		}
		return
	}
	if len(got) != 1 || got[0] != want {
		t.Errorf("%s: echoed x-request-id = %q, want [%q]", kind, got, want)
	}
	if id, ok := handlerID.(string); ok && id != want {
		t.Errorf("%s: handler's request id = %q, want %q", kind, id, want)
	}
}
