package route_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/callguardtest"
	"github.com/callguard/callguard/route"
)

func newTable(t *testing.T, opts ...route.Option) (*route.Table, *callguardtest.Clock) {
	t.Helper()
	c := callguardtest.NewClock()
	return route.New(append([]route.Option{route.WithClock(c)}, opts...)...), c
}

// admit returns Admit's outcome as a word: "send", "probe" or "refused".
func admit(t *testing.T, tb *route.Table, r string) string {
	t.Helper()
	probe, err := tb.Admit(r)
	switch {
	case err != nil:
		var re *route.RefusedError
		if !errors.As(err, &re) || re.Route != r {
			t.Fatalf("Admit(%q) = %v, want a *RefusedError for the route", r, err)
		}
		return "refused"
	case probe:
		return "probe"
	}
	return "send"
}

func TestRefusesLinkedRouteOnly(t *testing.T) {
	tb, _ := newTable(t)
	tb.Observe("POST /checkout", "payments", 5*time.Second)
	if got := admit(t, tb, "POST /checkout"); got != "refused" {
		t.Errorf("checkout: %s, want refused", got)
	}
	if got := admit(t, tb, "GET /browse"); got != "send" {
		t.Errorf("browse: %s, want send", got)
	}
	_, err := tb.Admit("POST /checkout")
	for _, target := range []error{route.ErrUnavailable, callguard.ErrRejected, callguard.ErrOverloaded} {
		if !errors.Is(err, target) {
			t.Errorf("Admit error %v does not match %v", err, target)
		}
	}
	if d, ok := callguard.Pushback(err); !ok || d != 0 {
		t.Errorf("Pushback(refusal) = %v, %v; want 0, true (do not retry)", d, ok)
	}
}

func TestEntriesExpire(t *testing.T) {
	tests := []struct {
		name   string
		giveD  time.Duration
		before time.Duration // still refused this long after Observe
		after  time.Duration // sent again this long after Observe
	}{
		{"announced", 3 * time.Second, 2900 * time.Millisecond, 3 * time.Second},
		{"default", 0, route.DefaultOutage - time.Millisecond, route.DefaultOutage},
		{"capped", time.Hour, route.DefaultMaxOutage - time.Millisecond, route.DefaultMaxOutage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A probe interval longer than any outage: only expiry can end it.
			tb, c := newTable(t, route.WithProbeInterval(time.Hour))
			tb.Observe("r", "dep", tt.giveD)
			c.Advance(tt.before)
			if got := admit(t, tb, "r"); got != "refused" {
				t.Fatalf("%v after: %s, want refused", tt.before, got)
			}
			c.Advance(tt.after - tt.before)
			if got := admit(t, tb, "r"); got != "send" {
				t.Fatalf("%v after: %s, want send", tt.after, got)
			}
			if n := tb.Len(); n != 0 {
				t.Errorf("Len after expiry = %d, want 0", n)
			}
		})
	}
}

func TestLatestAnnouncementCounts(t *testing.T) {
	tb, c := newTable(t, route.WithProbeInterval(time.Hour))
	tb.Observe("a", "dep", 10*time.Second)
	tb.Observe("b", "dep", time.Second) // the service now expects it back sooner
	c.Advance(time.Second)
	if got := admit(t, tb, "a"); got != "send" {
		t.Errorf("a: %s, want send: the outage ended at the latest announcement", got)
	}
}

func TestProbeHealsWrongEntry(t *testing.T) {
	tb, c := newTable(t)                                  // probe interval 1 s
	tb.Observe("GET /browse", "payments", 20*time.Second) // a wrong link
	tb.Observe("POST /checkout", "payments", 20*time.Second)
	if got := admit(t, tb, "GET /browse"); got != "refused" {
		t.Fatalf("browse: %s, want refused", got)
	}
	c.Advance(route.DefaultProbeInterval)
	if got := admit(t, tb, "GET /browse"); got != "probe" {
		t.Fatalf("browse after a probe interval: %s, want probe", got)
	}
	if got := admit(t, tb, "GET /browse"); got != "refused" {
		t.Fatalf("browse while its probe runs: %s, want refused (one probe per interval)", got)
	}
	tb.Recovered("GET /browse") // the probe got a normal answer
	if got := admit(t, tb, "GET /browse"); got != "send" {
		t.Errorf("browse after its probe succeeded: %s, want send", got)
	}
	if got := admit(t, tb, "POST /checkout"); got != "probe" {
		t.Errorf("checkout: %s, want its own probe: browse's answer does not clear it", got)
	}
	if got := admit(t, tb, "POST /checkout"); got != "refused" {
		t.Errorf("checkout: %s, want refused while its probe runs", got)
	}
}

func TestFailedProbeKeepsRefusing(t *testing.T) {
	tb, c := newTable(t)
	tb.Observe("r", "dep", 10*time.Second)
	c.Advance(time.Second)
	if got := admit(t, tb, "r"); got != "probe" {
		t.Fatalf("%s, want probe", got)
	}
	tb.Observe("r", "dep", 10*time.Second) // the probe was refused again
	c.Advance(time.Second - time.Millisecond)
	if got := admit(t, tb, "r"); got != "refused" {
		t.Errorf("%s, want refused until the next probe", got)
	}
	c.Advance(time.Millisecond)
	if got := admit(t, tb, "r"); got != "probe" {
		t.Errorf("%s, want the next probe", got)
	}
}

func TestBoundedEntries(t *testing.T) {
	tb, c := newTable(t, route.WithMaxEntries(10))
	for i := range 100 {
		c.Advance(time.Millisecond) // later routes expire later
		tb.Observe(fmt.Sprintf("GET /r%d", i), "dep", 5*time.Second)
		if n := tb.Len(); n > 10 {
			t.Fatalf("after %d routes Len = %d, want <= 10", i+1, n)
		}
	}
	if n := tb.Len(); n < 9 {
		t.Errorf("Len = %d, want the table full (>= 9): it evicts only what it must", n)
	}
	if got := admit(t, tb, "GET /r99"); got != "refused" {
		t.Errorf("newest route: %s, want refused (kept)", got)
	}
	if got := admit(t, tb, "GET /r0"); got != "send" {
		t.Errorf("oldest route: %s, want send (evicted)", got)
	}
}

func TestBoundedBytes(t *testing.T) {
	const max = 4 << 10
	tb, _ := newTable(t, route.WithMaxBytes(max), route.WithMaxEntries(10000))
	long := strings.Repeat("x", route.MaxKeyLen-8)
	for i := range 200 {
		tb.Observe(fmt.Sprintf("%s%d", long, i), fmt.Sprintf("dep%d", i%7), 5*time.Second)
		if b := tb.Bytes(); b > max {
			t.Fatalf("after %d routes Bytes = %d, want <= %d", i+1, b, max)
		}
	}
	if b := tb.Bytes(); b < max/2 {
		t.Errorf("Bytes = %d, want the table mostly full (>= %d)", b, max/2)
	}
	tb.Observe(strings.Repeat("y", route.MaxKeyLen+1), "dep", time.Second)
	if got := admit(t, tb, strings.Repeat("y", route.MaxKeyLen+1)); got != "send" {
		t.Errorf("over-long key: %s, want send (not learned)", got)
	}
}

func TestDepsPerRouteBounded(t *testing.T) {
	tb, _ := newTable(t)
	for i := range 50 {
		tb.Observe("r", fmt.Sprintf("dep%d", i), 5*time.Second)
	}
	if n := tb.Len(); n > 1+4 {
		t.Errorf("Len = %d, want <= 5: one route linked to at most 4 dependencies", n)
	}
}

func TestNewPanics(t *testing.T) {
	tests := []struct {
		name string
		opt  route.Option
		want string
	}{
		{"entries", route.WithMaxEntries(1), "route: max entries must be >= 2, got 1"},
		{"bytes", route.WithMaxBytes(10), "route: max bytes must be >= 1024, got 10"},
		{"probe", route.WithProbeInterval(0), "route: probe interval must be > 0, got 0s"},
		{"outage", route.WithOutage(-time.Second), "route: outage must be > 0, got -1s"},
		{"max outage", route.WithMaxOutage(0), "route: max outage must be > 0, got 0s"},
		{"clock", route.WithClock(nil), "route: nil clock"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if got := recover(); got != tt.want {
					t.Errorf("New panic = %v, want %q", got, tt.want)
				}
			}()
			route.New(tt.opt)
		})
	}
}

// TestHammer runs Admit, Observe and Recovered from many goroutines on one
// table, under the bounds.
func TestHammer(t *testing.T) {
	t.Parallel()
	tb := route.New(route.WithMaxEntries(16), route.WithMaxBytes(2048))
	var wg sync.WaitGroup
	var refused, sent sync.Map
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				r := fmt.Sprintf("r%d", (g*31+i)%40)
				switch i % 5 {
				case 0:
					tb.Observe(r, fmt.Sprintf("d%d", i%3), time.Minute)
				case 1:
					tb.Recovered(r)
				default:
					if _, err := tb.Admit(r); err != nil {
						refused.Store(r, true)
					} else {
						sent.Store(r, true)
					}
				}
				if n := tb.Len(); n > 16 {
					t.Errorf("Len = %d, want <= 16", n)
					return
				}
			}
		}()
	}
	wg.Wait()
	var nr, ns int
	refused.Range(func(any, any) bool { nr++; return true })
	sent.Range(func(any, any) bool { ns++; return true })
	if nr == 0 || ns == 0 {
		t.Errorf("routes refused %d, sent %d: want both > 0", nr, ns)
	}
	if b := tb.Bytes(); b > 2048 {
		t.Errorf("Bytes = %d, want <= 2048", b)
	}
}
