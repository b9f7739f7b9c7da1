package propagation

import (
	"strings"
	"testing"
	"time"
)

func TestUnavailableRoundTrip(t *testing.T) {
	tests := []struct {
		giveDep string
		giveD   time.Duration
		want    string
		wantD   time.Duration
	}{
		{"payments", 5 * time.Second, "payments; for=5s", 5 * time.Second},
		{"payments", 0, "payments", 0},
		{"pay.v2_x-1", 1500 * time.Millisecond, "pay.v2_x-1; for=1.5s", 1500 * time.Millisecond},
		{"db", 48 * time.Hour, "db; for=1h0m0s", time.Hour},
	}
	for _, tt := range tests {
		got := FormatUnavailable(tt.giveDep, tt.giveD)
		if got != tt.want {
			t.Errorf("FormatUnavailable(%q, %v) = %q, want %q", tt.giveDep, tt.giveD, got, tt.want)
		}
		dep, d, err := ParseUnavailable(got)
		if err != nil || dep != tt.giveDep || d != tt.wantD {
			t.Errorf("ParseUnavailable(%q) = %q, %v, %v; want %q, %v", got, dep, d, err, tt.giveDep, tt.wantD)
		}
	}
}

func TestParseUnavailable(t *testing.T) {
	tests := []struct {
		give    string
		wantDep string
		wantD   time.Duration
		wantErr bool
	}{
		{give: " payments ;for=2s; x=y", wantDep: "payments", wantD: 2 * time.Second},
		{give: "payments; retry=1", wantDep: "payments"},
		{give: "", wantErr: true},
		{give: "pay ments", wantErr: true},
		{give: "payments; for=-1s", wantErr: true},
		{give: "payments; for=soon", wantErr: true},
		{give: strings.Repeat("a", MaxDependencyLen+1), wantErr: true},
		{give: "päyments", wantErr: true},
	}
	for _, tt := range tests {
		dep, d, err := ParseUnavailable(tt.give)
		if (err != nil) != tt.wantErr || dep != tt.wantDep || d != tt.wantD {
			t.Errorf("ParseUnavailable(%q) = %q, %v, %v; want %q, %v, error %v", tt.give, dep, d, err, tt.wantDep, tt.wantD, tt.wantErr)
		}
	}
	if got := FormatUnavailable("a b", time.Second); got != "" {
		t.Errorf("FormatUnavailable(invalid) = %q, want \"\"", got)
	}
}

func FuzzParseUnavailable(f *testing.F) {
	for _, s := range []string{"payments; for=5s", "x", "a;for=1h;for=2s", ";", "a; for=9999999h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		dep, d, err := ParseUnavailable(s)
		if err != nil {
			return
		}
		if !ValidDependency(dep) || d < 0 || d > maxFor {
			t.Fatalf("ParseUnavailable(%q) = %q, %v: invalid result", s, dep, d)
		}
		again, d2, err := ParseUnavailable(FormatUnavailable(dep, d))
		if err != nil || again != dep || (d2-d).Abs() > time.Millisecond {
			t.Fatalf("round trip of %q, %v = %q, %v, %v", dep, d, again, d2, err)
		}
	})
}
