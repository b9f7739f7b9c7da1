package grpcx

import (
	"context"
	"slices"
	"testing"

	"google.golang.org/grpc/metadata"

	"github.com/callguard/callguard/internal/priority"
	"github.com/callguard/callguard/internal/wire"
	"github.com/callguard/callguard/ttl"
)

// TestOutgoingHopsOnly: a call that carries hops alone gets them in place
// of any the caller set, and the MD shared between such calls stays as it
// was whatever a later interceptor does with its copy.
func TestOutgoingHopsOnly(t *testing.T) {
	tests := []struct {
		name string
		ctx  context.Context
		want metadata.MD
	}{
		// A call with no hop state sends none: the server starts the budget.
		{"no metadata", context.Background(), nil},
		{"caller's metadata", metadata.AppendToOutgoingContext(context.Background(), "x-custom", "kept", ttl.HopsMetadata, "200"),
			metadata.MD{"x-custom": {"kept"}}},
		{"inbound hops", ttl.Inbound(context.Background(), "7", ""), metadata.MD{ttl.HopsMetadata: {"6"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, err := outgoing(tt.ctx)
			if err != nil {
				t.Fatal(err)
			}
			md, _ := metadata.FromOutgoingContext(ctx)
			if !equalMD(md, tt.want) {
				t.Errorf("outgoing metadata = %v, want %v", md, tt.want)
			}
			if md != nil {
				md.Set(ttl.HopsMetadata, "0") // a later interceptor's copy
			}
			again, _ := outgoing(tt.ctx)
			if md, _ := metadata.FromOutgoingContext(again); !equalMD(md, tt.want) {
				t.Errorf("outgoing metadata after a change to a copy = %v, want %v", md, tt.want)
			}
		})
	}
}

func equalMD(a, b metadata.MD) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

// TestOutgoingReplaces: the context's values replace the callguard keys
// that the caller put in its outgoing metadata, one value each; the
// caller's other keys stay.
func TestOutgoingReplaces(t *testing.T) {
	ctx := priority.NewContext(ttl.Inbound(context.Background(), "7", ""), priority.Sheddable)
	ctx = metadata.AppendToOutgoingContext(ctx, "x-custom", "kept",
		ttl.HopsMetadata, "bogus", ttl.PathMetadata, "spoof", wire.PriorityMetadata, "critical")
	ctx, err := outgoing(ctx)
	if err != nil {
		t.Fatal(err)
	}
	md, _ := metadata.FromOutgoingContext(ctx)
	want := metadata.MD{"x-custom": {"kept"}, ttl.HopsMetadata: {"6"}, wire.PriorityMetadata: {"sheddable"}}
	if !equalMD(md, want) {
		t.Errorf("outgoing metadata = %v, want %v", md, want)
	}
}
