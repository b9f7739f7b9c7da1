package loadshed

import (
	"testing"
	"time"

	"github.com/callguard/callguard/internal/clock"
)

func TestGrowsWhenLatencyFlat(t *testing.T) {
	clk := clock.NewFake()
	var changes []int
	l := New(withClock(clk), OnLimitChange(func(old, new int) {
		if new <= old {
			t.Errorf("OnLimitChange(%d, %d) with flat latency", old, new)
		}
		changes = append(changes, new)
	}))
	rounds(t, l, clk, 5*time.Second, 10*time.Millisecond, Success)
	t.Logf("flat 10ms latency, 5s: limit 20 → %d", l.Limit())
	if got := l.Limit(); got < 40 {
		t.Errorf("Limit() after 5s of flat latency = %d, want >= 40", got)
	}
	if len(changes) == 0 || changes[len(changes)-1] != l.Limit() {
		t.Errorf("OnLimitChange calls ended at %v, want %d", changes, l.Limit())
	}
	checkIdle(t, l)
}

func TestAppLimitedDoesNotGrow(t *testing.T) {
	clk := clock.NewFake()
	l := New(withClock(clk))
	for range 500 {
		round(t, l, clk, 5, 10*time.Millisecond, Success) // a quarter of the limit
	}
	if got := l.Limit(); got != DefaultInitialLimit {
		t.Errorf("Limit() when app-limited = %d, want %d", got, DefaultInitialLimit)
	}
}

func TestShrinksWhenLatencyRises(t *testing.T) {
	clk := clock.NewFake()
	l := New(withClock(clk))
	rounds(t, l, clk, 3*time.Second, 10*time.Millisecond, Success)
	grown := l.Limit()
	rounds(t, l, clk, 2*time.Second, 40*time.Millisecond, Success)
	t.Logf("latency 10ms → 40ms: limit %d → %d", grown, l.Limit())
	if got := l.Limit(); got >= grown*2/3 {
		t.Errorf("Limit() after latency rose = %d, want < %d", got, grown*2/3)
	}
	if got := l.Limit(); got < DefaultMinLimit {
		t.Errorf("Limit() = %d, below the min %d", got, DefaultMinLimit)
	}
}

func TestMinMaxLimits(t *testing.T) {
	clk := clock.NewFake()
	l := New(withClock(clk), WithMinLimit(10), WithMaxLimit(30))
	rounds(t, l, clk, 5*time.Second, 10*time.Millisecond, Success)
	if got := l.Limit(); got != 30 {
		t.Errorf("Limit() after growth = %d, want the max 30", got)
	}
	rounds(t, l, clk, 5*time.Second, 10*time.Millisecond, Dropped)
	if got := l.Limit(); got != 10 {
		t.Errorf("Limit() after drops = %d, want the min 10", got)
	}
}

func TestDropsShrink(t *testing.T) {
	for _, algo := range []Algorithm{Gradient2{}, AIMD{}} {
		clk := clock.NewFake()
		l := New(withClock(clk), WithAlgorithm(algo), WithInitialLimit(100))
		rounds(t, l, clk, 110*time.Millisecond, 10*time.Millisecond, Dropped) // one window
		if got := l.Limit(); got != 90 {
			t.Errorf("%T: Limit() after a window of drops = %d, want 90", algo, got)
		}
	}
}

func TestAIMD(t *testing.T) {
	clk := clock.NewFake()
	l := New(withClock(clk), WithAlgorithm(AIMD{Timeout: 30 * time.Millisecond}))
	rounds(t, l, clk, time.Second, 10*time.Millisecond, Success)
	if got := l.Limit(); got < 26 || got > 30 {
		t.Errorf("AIMD Limit() after 1s = %d, want about 20 + 1 per 100ms window", got)
	}
	grown := l.Limit()
	rounds(t, l, clk, 200*time.Millisecond, 50*time.Millisecond, Success) // over Timeout
	if got := l.Limit(); got >= grown {
		t.Errorf("AIMD Limit() after slow windows = %d, want < %d", got, grown)
	}
}
