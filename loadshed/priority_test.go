package loadshed

import (
	"context"
	"strings"
	"testing"
)

func TestPriorityString(t *testing.T) {
	tests := []struct {
		give Priority
		want string
	}{
		{Critical, "critical"},
		{Default, "default"},
		{Sheddable, "sheddable"},
		{Priority(7), "Priority(7)"},
	}
	for _, tt := range tests {
		if got := tt.give.String(); got != tt.want {
			t.Errorf("Priority(%d).String() = %q, want %q", tt.give, got, tt.want)
		}
	}
}

func TestParsePriority(t *testing.T) {
	tests := []struct {
		give   string
		want   Priority
		wantOK bool
	}{
		{"critical", Critical, true},
		{"CRITICAL", Critical, true},
		{" Sheddable\t", Sheddable, true},
		{"default", Default, true},
		{"", Default, false},
		{"high", Default, false},
		{"critical,sheddable", Default, false},
		{"1", Default, false},
		{"\u017fheddable", Default, false}, // ſ folds to s in Unicode, not in ASCII
		{"crit\x09cal", Default, false},
	}
	for _, tt := range tests {
		got, ok := ParsePriority(tt.give)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("ParsePriority(%q) = %v, %v; want %v, %v", tt.give, got, ok, tt.want, tt.wantOK)
		}
	}
}

func FuzzParsePriority(f *testing.F) {
	for _, s := range []string{"critical", "Default", " sheddable ", "", "critica", "\xff", strings.Repeat("x", 1000)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, ok := ParsePriority(s)
		if !valid(p) {
			t.Fatalf("ParsePriority(%q) = %d, not a priority", s, p)
		}
		if !ok {
			if p != Default {
				t.Fatalf("ParsePriority(%q) = %v, false; want default", s, p)
			}
			return
		}
		if !strings.EqualFold(strings.TrimSpace(s), p.String()) {
			t.Fatalf("ParsePriority(%q) = %v", s, p)
		}
		if q, ok := ParsePriority(p.String()); !ok || q != p {
			t.Fatalf("round trip of %v = %v, %v", p, q, ok)
		}
	})
}

func TestContext(t *testing.T) {
	if got := FromContext(context.Background()); got != Default {
		t.Errorf("FromContext(Background) = %v, want default", got)
	}
	tests := []struct {
		give, want Priority
	}{
		{Critical, Critical},
		{Sheddable, Sheddable},
		{Default, Default},
		{Priority(100), Critical},
		{Priority(-100), Sheddable},
	}
	for _, tt := range tests {
		ctx := NewContext(NewContext(context.Background(), Sheddable), tt.give)
		if got := FromContext(ctx); got != tt.want {
			t.Errorf("FromContext(NewContext(ctx, %d)) = %v, want %v", tt.give, got, tt.want)
		}
	}
}
