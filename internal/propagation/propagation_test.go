package propagation

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/internal/classify"
	"github.com/callguard/callguard/internal/priority"
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

func (f fields) Set(k Field, v []string) { f[k] = v }
func (f fields) Del(k Field)             { delete(f, k) }

// TestOutboundWrite: the context's values replace the caller's; the
// caller's other callguard fields are dropped, except a valid priority and
// a request id when the context has none.
func TestOutboundWrite(t *testing.T) {
	bg := context.Background()
	full := callguard.ContextWithRequestID(priority.NewContext(ttl.Inbound(bg, "12", "a"), priority.Sheddable), "id-ctx")
	caller := func() fields {
		return fields{Hops: {"bogus"}, Path: {"x"}, Priority: {"critical"}, RequestID: {"id-caller"}, Timeout: {"1S"}}
	}
	tests := []struct {
		name string
		ctx  context.Context
		give fields
		want fields
	}{
		{"context wins", full, caller(), fields{Hops: {"11"}, Path: {"a"}, Priority: {"sheddable"}, RequestID: {"id-ctx"}}},
		{"caller's priority and id kept", bg, caller(), fields{Priority: {"critical"}, RequestID: {"id-caller"}}},
		{"caller's invalid priority dropped", bg, fields{Priority: {"urgent", "critical"}}, fields{}},
		{"nothing of the caller's", full, fields{}, fields{Hops: {"11"}, Path: {"a"}, Priority: {"sheddable"}, RequestID: {"id-ctx"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var o Outbound
			if err := o.Read(tt.ctx, false); err != nil {
				t.Fatal(err)
			}
			if !Changes(&o, tt.give) {
				t.Errorf("Changes = false, want true")
			}
			o.Write(tt.give)
			if len(tt.give) != len(tt.want) {
				t.Errorf("Write: fields = %q, want %q", tt.give, tt.want)
			}
			for f, v := range tt.want {
				if !slices.Equal(tt.give[f], v) {
					t.Errorf("Write: field %d = %q, want %q", f, tt.give[f], v)
				}
			}
		})
	}
}

// TestOutboundChanges: a call with nothing to carry and nothing of the
// caller's to drop goes out as it is.
func TestOutboundChanges(t *testing.T) {
	bg := context.Background()
	tests := []struct {
		name string
		ctx  context.Context
		give fields
		want bool
	}{
		{"nothing", bg, fields{}, false},
		{"caller's id and valid priority", bg, fields{RequestID: {"id"}, Priority: {"critical"}}, false},
		{"caller's invalid priority", bg, fields{Priority: {"urgent"}}, true},
		{"caller's hops", bg, fields{Hops: {"3"}}, true},
		{"caller's timeout", bg, fields{Timeout: {"1S"}}, true},
		{"hop state", ttl.Inbound(bg, "9", ""), fields{}, true},
		{"request id", callguard.ContextWithRequestID(bg, "r"), fields{}, true},
		{"priority", priority.NewContext(bg, priority.Critical), fields{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var o Outbound
			if err := o.Read(tt.ctx, true); err != nil {
				t.Fatal(err)
			}
			if got := Changes(&o, tt.give); got != tt.want {
				t.Errorf("Changes(%q) = %v, want %v", tt.give, got, tt.want)
			}
		})
	}
}

func TestOutboundRead(t *testing.T) {
	ctx, cancel := context.WithTimeout(ttl.Inbound(context.Background(), "16", ""), time.Hour)
	defer cancel()
	var o Outbound
	if err := o.Read(ctx, true); err != nil || o.Get(Timeout) == "" || o.Get(Hops) != "15" {
		t.Errorf("Read(deadline in an hour) = %v, timeout %q, hops %q", err, o.Get(Timeout), o.Get(Hops))
	}
	if kv := o.AppendPairs(nil); !slices.Equal(kv, []string{"callguard-hops", "15"}) {
		t.Errorf("AppendPairs = %q, want the hops alone (no metadata for Timeout)", kv)
	}
	past, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	if err := new(Outbound).Read(past, true); err != ErrNoTimeLeft {
		t.Errorf("Read(deadline passed) = %v, want ErrNoTimeLeft", err)
	}
	if err := new(Outbound).Read(past, false); err != nil {
		t.Errorf("Read(deadline passed, no timeout) = %v, want nil", err)
	}
	if err := new(Outbound).Read(ttl.NewContext(ctx, 0), true); !errors.Is(err, ttl.ErrExhausted) {
		t.Errorf("Read(no hops) = %v, want ttl.ErrExhausted", err)
	}
}

// TestDeadline: the time a server gives a call, as both adapters take it.
func TestDeadline(t *testing.T) {
	in := func(d time.Duration) Given { return Given{at: time.Now().Add(d), ok: true} }
	tests := []struct {
		name     string
		server   Server
		give     Given
		wantLeft time.Duration // 0: no deadline; -1: refused
	}{
		{"none", Server{Margin: time.Second}, Given{}, 0},
		{"margin taken", Server{Margin: time.Second}, in(time.Hour), time.Hour - time.Second},
		{"capped", Server{Margin: time.Second, MaxDeadline: time.Minute}, in(time.Hour), time.Minute},
		{"max alone", Server{MaxDeadline: time.Minute}, Given{}, time.Minute},
		{"edge ignores a claim", Server{Edge: true, Margin: time.Second}, in(time.Hour), 0},
		{"edge caps a claim", Server{Edge: true, MaxDeadline: time.Hour}, in(time.Minute), time.Minute},
		{"too little", Server{MinServiceTime: time.Minute}, in(time.Second), -1},
		{"passed after the margin", Server{Margin: time.Second}, in(time.Millisecond), -1},
		{"1n", Server{}, in(1), -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel, err := tt.server.Deadline(context.Background(), tt.give)
			if cancel != nil {
				defer cancel()
			}
			if tt.wantLeft == -1 {
				var de *classify.DeadlineError
				if !errors.As(err, &de) || cancel != nil {
					t.Errorf("Deadline = %v, cancel %v, want a *classify.DeadlineError and no cancel", err, cancel != nil)
				}
				return
			}
			dl, ok := ctx.Deadline()
			if err != nil || ok != (tt.wantLeft > 0) || ok && (time.Until(dl) > tt.wantLeft || time.Until(dl) < tt.wantLeft-time.Second) {
				t.Errorf("Deadline = %v, %v left (set %v), want %v", err, time.Until(dl), ok, tt.wantLeft)
			}
		})
	}
	// gRPC's own deadline: Edge does not ignore it, and a context that
	// needs no change is not copied.
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	s := Server{Edge: true, Margin: time.Second}
	if got, c, err := s.Deadline(ctx, Native(ctx)); err != nil || c == nil || got == ctx {
		t.Errorf("Deadline(native, edge, margin) = %v, cancel %v: want a new context", err, c != nil)
	}
	s.Margin = 0
	if got, c, err := s.Deadline(ctx, Native(ctx)); err != nil || c != nil || got != ctx {
		t.Errorf("Deadline(native, no margin) = %v, cancel %v: want ctx unchanged", err, c != nil)
	}
}
