package grpcx_test

import (
	"context"
	"testing"

	"google.golang.org/grpc"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/grpcx"
	"github.com/callguard/callguard/loadshed"
	"github.com/callguard/callguard/ttl"
)

// TestServerReadsFirst: a server takes the first value of each key, as
// httpx's Handler takes the first header.
func TestServerReadsFirst(t *testing.T) {
	s, _, c := recorder(t, "svc")
	ctx := metadata.AppendToOutgoingContext(testCtx(t),
		ttl.HopsMetadata, "9", ttl.HopsMetadata, "200",
		loadshed.PriorityMetadata, "sheddable", loadshed.PriorityMetadata, "critical",
		"x-request-id", "r1", "x-request-id", "r2")
	if _, err := c.UnaryCall(ctx, &testpb.SimpleRequest{}); err != nil {
		t.Fatal(err)
	}
	if got := s.get(); got.hops != 9 || got.prio != loadshed.Sheddable || got.id != "r1" {
		t.Errorf("hops, priority, id = %d, %v, %q, want 9, sheddable, r1", got.hops, got.prio, got.id)
	}
}

// TestCallerMetadataDoesNotOverride: callguard metadata that a caller puts
// in its own outgoing metadata does not override what the context says; a
// valid priority of the caller's counts when the context has none, as a
// Callguard-Priority header does in httpx. A context with no hop state sends
// no hops, and the server gives the call its own default budget.
func TestCallerMetadataDoesNotOverride(t *testing.T) {
	tests := []struct {
		name     string
		giveCtx  func(context.Context) context.Context
		giveMD   []string
		wantHops int
		wantPrio loadshed.Priority
		wantID   string
	}{
		{"priority", func(ctx context.Context) context.Context { return loadshed.NewContext(ctx, loadshed.Sheddable) },
			[]string{loadshed.PriorityMetadata, "critical"}, ttl.DefaultHops, loadshed.Sheddable, ""},
		{"bogus hops", func(ctx context.Context) context.Context { return ttl.NewContext(ctx, 7) },
			[]string{ttl.HopsMetadata, "bogus"}, 6, loadshed.Default, ""},
		{"large hops", func(ctx context.Context) context.Context { return ttl.NewContext(ctx, 7) },
			[]string{ttl.HopsMetadata, "250"}, 6, loadshed.Default, ""},
		{"request id", func(ctx context.Context) context.Context { return callguard.ContextWithRequestID(ctx, "ctx-id") },
			[]string{"x-request-id", "md-id"}, ttl.DefaultHops, loadshed.Default, "ctx-id"},
		{"caller's priority alone", func(ctx context.Context) context.Context { return ctx },
			[]string{loadshed.PriorityMetadata, "critical"}, ttl.DefaultHops, loadshed.Critical, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, addr := recordingServer(t, "svc")
			c := dial(t, addr, grpc.WithUnaryInterceptor(grpcx.UnaryClientInterceptor(callguard.Chain())))
			ctx := metadata.AppendToOutgoingContext(tt.giveCtx(testCtx(t)), tt.giveMD...)
			if _, err := c.UnaryCall(ctx, &testpb.SimpleRequest{}); err != nil {
				t.Fatal(err)
			}
			if got := s.get(); got.hops != tt.wantHops || got.prio != tt.wantPrio || got.id != tt.wantID {
				t.Errorf("hops, priority, id = %d, %v, %q, want %d, %v, %q", got.hops, got.prio, got.id, tt.wantHops, tt.wantPrio, tt.wantID)
			}
		})
	}
}
