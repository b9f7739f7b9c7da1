package callguard_test

import (
	"testing"
	"time"

	"github.com/callguard/callguard"
)

func TestParsePushback(t *testing.T) {
	tests := []struct {
		give      string
		wantDelay time.Duration
		wantRetry bool
	}{
		{"0", 0, true},
		{"250", 250 * time.Millisecond, true},
		{" 250 ", 250 * time.Millisecond, true},
		{"+7", 7 * time.Millisecond, true},
		{"-1", 0, false},
		{"-0", 0, false},
		{"", 0, false},
		{"-", 0, false},
		{"1.5", 0, false},
		{"1e3", 0, false},
		{"abc", 0, false},
		{"99999999999999999999999", callguard.MaxPushback, true},
		{"3600001", callguard.MaxPushback, true},
	}
	for _, tt := range tests {
		d, retry := callguard.ParsePushback(tt.give)
		if d != tt.wantDelay || retry != tt.wantRetry {
			t.Errorf("ParsePushback(%q) = %v, %v, want %v, %v", tt.give, d, retry, tt.wantDelay, tt.wantRetry)
		}
	}
}

func TestFormatPushback(t *testing.T) {
	tests := []struct {
		give time.Duration
		want string
	}{
		{0, "-1"},
		{-time.Second, "-1"},
		{time.Nanosecond, "1"},
		{250 * time.Millisecond, "250"},
		{2 * time.Hour, "3600000"},
	}
	for _, tt := range tests {
		if got := callguard.FormatPushback(tt.give); got != tt.want {
			t.Errorf("FormatPushback(%v) = %q, want %q", tt.give, got, tt.want)
		}
	}
}

func FuzzParsePushback(f *testing.F) {
	for _, s := range []string{"0", "250", "-1", "", "1.5", "+", "99999999999999999999", " 12 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, retry := callguard.ParsePushback(s)
		if d < 0 || d > callguard.MaxPushback {
			t.Fatalf("ParsePushback(%q) = %v, out of [0, MaxPushback]", s, d)
		}
		if !retry && d != 0 {
			t.Fatalf("ParsePushback(%q) = %v, false: delay must be 0 when no retry", s, d)
		}
		if retry {
			// A value that parses round-trips through FormatPushback.
			if d2, ok := callguard.ParsePushback(callguard.FormatPushback(d)); d > 0 && (!ok || d2 != d) {
				t.Fatalf("round trip of %v = %v, %v", d, d2, ok)
			}
		}
	})
}
