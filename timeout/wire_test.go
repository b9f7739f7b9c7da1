package timeout

import (
	"math"
	"testing"
	"time"

	"github.com/callguard/callguard/internal/race"
)

func TestFormatWire(t *testing.T) {
	tests := []struct {
		give time.Duration
		want string
	}{
		{-time.Second, "0n"},
		{0, "0n"},
		{1, "1n"},
		{250 * time.Millisecond, "250000u"},
		{99999999, "99999999n"},
		{100000000, "100000u"},
		{100000001, "100001u"},
		{100 * time.Second, "100000m"},
		{100000 * time.Second, "100000S"},
		{math.MaxInt64, "2562048H"},
	}
	for _, tt := range tests {
		if got := FormatWire(tt.give); got != tt.want {
			t.Errorf("FormatWire(%v) = %q, want %q", tt.give, got, tt.want)
		}
	}
}

func TestParseWire(t *testing.T) {
	tests := []struct {
		give    string
		want    time.Duration
		wantErr bool
	}{
		{"250m", 250 * time.Millisecond, false},
		{"1S", time.Second, false},
		{"2M", 2 * time.Minute, false},
		{"3H", 3 * time.Hour, false},
		{"7u", 7 * time.Microsecond, false},
		{"0n", 0, false},
		{"99999999H", math.MaxInt64, false},
		{"", 0, true},
		{"m", 0, true},
		{"123456789m", 0, true},
		{"-1m", 0, true},
		{"1.5S", 0, true},
		{"10s", 0, true},
		{" 1m", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseWire(tt.give)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("ParseWire(%q) = %v, %v, want %v, err %v", tt.give, got, err, tt.want, tt.wantErr)
		}
	}
}

func FuzzParseWire(f *testing.F) {
	for _, s := range []string{"250m", "1S", "99999999H", "0n", "", "-1m", "12345678u", "1x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseWire(s)
		if err != nil {
			return
		}
		if d < 0 {
			t.Fatalf("ParseWire(%q) = %v < 0", s, d)
		}
		// Encoding never gives less time than there is, and decodes.
		d2, err := ParseWire(FormatWire(d))
		if err != nil || d2 < d {
			t.Fatalf("round trip of %v = %v, %v", d, d2, err)
		}
	})
}

func TestWireAllocs(t *testing.T) {
	if testing.Short() || race.Enabled {
		t.Skip("allocation counts are not meaningful under -race or -short")
	}
	buf := make([]byte, 0, 16)
	if n := testing.AllocsPerRun(100, func() { buf = AppendWire(buf[:0], 1234567*time.Microsecond) }); n != 0 {
		t.Errorf("AppendWire allocs = %v, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = ParseWire("1234567u") }); n != 0 {
		t.Errorf("ParseWire allocs = %v, want 0", n)
	}
}

func BenchmarkDeadlineEncode(b *testing.B) {
	b.ReportAllocs()
	buf := make([]byte, 0, 16)
	for b.Loop() {
		buf = AppendWire(buf[:0], 1234567*time.Microsecond)
	}
}

func BenchmarkDeadlineDecode(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_, _ = ParseWire("1234567u")
	}
}
