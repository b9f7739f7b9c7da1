package propagation

import (
	"context"
	"slices"
	"testing"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/loadshed"
	"github.com/callguard/callguard/ttl"
)

type fields map[Field][]string

func (f fields) Get(k Field) []string { return f[k] }

func TestInbound(t *testing.T) {
	full := fields{
		Hops:      {"7", "200"},
		Path:      {"a,b", "c"},
		Priority:  {"critical", "sheddable"},
		RequestID: {"id-1", "id-2"},
	}
	tests := []struct {
		name     string
		give     fields
		server   Server
		wantHops int // -1: none carried
		wantPath []string
		wantPrio loadshed.Priority
		wantID   string
	}{
		{"trusted: first counts, path joined", full, Server{}, 7, []string{"a", "b", "c"}, loadshed.Critical, "id-1"},
		{"edge: only the id", full, Server{Edge: true}, -1, nil, loadshed.Default, "id-1"},
		{"invalid id replaced", fields{RequestID: {"bad\nid"}}, Server{RequestIDs: true}, -1, nil, loadshed.Default, "new"},
		{"invalid id dropped", fields{RequestID: {"bad\nid"}}, Server{}, -1, nil, loadshed.Default, ""},
		{"nothing", fields{}, Server{}, -1, nil, loadshed.Default, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, id := Inbound(context.Background(), tt.give, tt.server)
			hops, ok := ttl.FromContext(ctx)
			if !ok {
				hops = -1
			}
			if hops != tt.wantHops || !slices.Equal(ttl.PathFromContext(ctx), tt.wantPath) {
				t.Errorf("hops, path = %d, %q, want %d, %q", hops, ttl.PathFromContext(ctx), tt.wantHops, tt.wantPath)
			}
			if p := loadshed.FromContext(ctx); p != tt.wantPrio {
				t.Errorf("priority = %v, want %v", p, tt.wantPrio)
			}
			if tt.wantID == "new" {
				if !callguard.ValidRequestID(id) {
					t.Errorf("id = %q, want a new valid one", id)
				}
				tt.wantID = id
			}
			if id != tt.wantID || callguard.RequestIDFromContext(ctx) != tt.wantID {
				t.Errorf("id = %q, in context %q, want %q", id, callguard.RequestIDFromContext(ctx), tt.wantID)
			}
		})
	}
}

func TestNames(t *testing.T) {
	for f := range numFields {
		if f.Header() == "" {
			t.Errorf("Field(%d).Header() empty", f)
		}
	}
	if Timeout.Metadata() != "" || RequestID.Metadata() != "x-request-id" {
		t.Errorf("Timeout, RequestID metadata = %q, %q", Timeout.Metadata(), RequestID.Metadata())
	}
}
