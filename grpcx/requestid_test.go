package grpcx_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
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
