package propagation

import (
	"context"
	"strconv"
	"testing"

	"github.com/callguard/callguard"
)

func TestParseAttempt(t *testing.T) {
	tests := []struct {
		give string
		want int
	}{
		{"2", 2}, {"1", 1}, {"1000", 1000}, {"0012", 12},
		{"", 0}, {"0", 0}, {"1001", 0}, {"-2", 0}, {"+2", 0}, {" 2", 0}, {"2x", 0}, {"99999", 0},
	}
	for _, tt := range tests {
		if got := parseAttempt(tt.give); got != tt.want {
			t.Errorf("parseAttempt(%q) = %d, want %d", tt.give, got, tt.want)
		}
	}
}

func FuzzParseAttempt(f *testing.F) {
	for _, s := range []string{"2", "1000", "", "-1", "9999", "0x10"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := parseAttempt(s)
		if n == 0 {
			return
		}
		if n < 1 || n > MaxAttempt {
			t.Fatalf("parseAttempt(%q) = %d, outside [1, %d]", s, n, MaxAttempt)
		}
		if m, err := strconv.Atoi(s); err != nil || m != n {
			t.Fatalf("parseAttempt(%q) = %d, strconv.Atoi = %d, %v", s, n, m, err)
		}
	})
}

// TestAttemptField checks the attempt number's way: sent from a retry's
// or hedge's context only above 1, a stale one of the caller's dropped,
// read by a trusted server and ignored by an Edge one.
func TestAttemptField(t *testing.T) {
	bg := context.Background()
	for _, tt := range []struct {
		name string
		give context.Context
		want string
	}{
		{"first attempt", bg, ""},
		{"retry", callguard.ContextWithAttempt(bg, 3), "3"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var o Outbound
			if err := o.Read(tt.give, false); err != nil {
				t.Fatal(err)
			}
			if got := o.Get(Attempt); got != tt.want {
				t.Errorf("Read: Attempt = %q, want %q", got, tt.want)
			}
			c := fields{Attempt: {"7"}} // copied from an inbound request
			o.Write(c)
			if got := first(c.Get(Attempt)); got != tt.want {
				t.Errorf("Write: Attempt = %q, want %q", got, tt.want)
			}
		})
	}
	in := fields{Attempt: {"2", "5"}}
	ctx, _ := Inbound(bg, in, Server{})
	if n := callguard.InboundAttempt(ctx); n != 2 {
		t.Errorf("trusted: InboundAttempt = %d, want 2", n)
	}
	if n := callguard.Attempt(ctx); n != 1 {
		t.Errorf("trusted: Attempt = %d, want 1: a handler's own calls are first attempts", n)
	}
	ctx, _ = Inbound(bg, in, Server{Edge: true})
	if n := callguard.InboundAttempt(ctx); n != 1 {
		t.Errorf("edge: InboundAttempt = %d, want 1", n)
	}
	ctx, _ = Inbound(bg, fields{Attempt: {"zz"}}, Server{})
	if n := callguard.InboundAttempt(ctx); n != 1 {
		t.Errorf("malformed: InboundAttempt = %d, want 1", n)
	}
}
