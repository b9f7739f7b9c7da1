package loadshed

import (
	"context"
	"errors"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/callguardtest"
)

func TestGrowsWhenLatencyFlat(t *testing.T) {
	clk := callguardtest.NewClock()
	var changes []int
	l := New(WithClock(clk), WithAlgorithm(Gradient2{}), OnLimitChange(func(old, new int) {
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
	clk := callguardtest.NewClock()
	l := New(WithClock(clk), WithAlgorithm(Gradient2{}))
	for range 500 {
		round(t, l, clk, 5, 10*time.Millisecond, Success) // a quarter of the limit
	}
	if got := l.Limit(); got != DefaultInitialLimit {
		t.Errorf("Limit() when app-limited = %d, want %d", got, DefaultInitialLimit)
	}
}

func TestShrinksWhenLatencyRises(t *testing.T) {
	clk := callguardtest.NewClock()
	l := New(WithClock(clk), WithAlgorithm(Gradient2{}))
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
	clk := callguardtest.NewClock()
	l := New(WithClock(clk), WithAlgorithm(Gradient2{}), WithMinLimit(10), WithMaxLimit(30))
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
		clk := callguardtest.NewClock()
		l := New(WithClock(clk), WithAlgorithm(algo), WithInitialLimit(100))
		rounds(t, l, clk, 110*time.Millisecond, 10*time.Millisecond, Dropped) // one window
		if got := l.Limit(); got != 90 {
			t.Errorf("%T: Limit() after a window of drops = %d, want 90", algo, got)
		}
	}
}

func TestAIMD(t *testing.T) {
	clk := callguardtest.NewClock()
	l := New(WithClock(clk), WithAlgorithm(AIMD{Timeout: 30 * time.Millisecond}))
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

// windowOf runs one sampling window of calls that each take rtt, with n in
// flight (fewer if the limit is lower), and returns the limit after it.
func windowOf(t *testing.T, l *Limiter, clk *callguardtest.Clock, n int, rtt time.Duration) int {
	t.Helper()
	for range (DefaultWindow+rtt-1)/rtt + 1 {
		round(t, l, clk, n, rtt, Success)
	}
	return l.Limit()
}

// A service of 4 workers, 5ms a call: with n calls in flight a call takes
// 5ms·max(1, n/4).
func workers4(n int) time.Duration {
	return time.Duration(max(1, float64(n)/4) * float64(5*time.Millisecond))
}

func TestGradientProbesMinRTT(t *testing.T) {
	clk := callguardtest.NewClock()
	l := New(WithClock(clk), WithAlgorithm(Gradient{MinRTTInterval: 10 * time.Second}))
	var limits []int
	for range 4 {
		n := l.Limit()
		limits = append(limits, windowOf(t, l, clk, n, workers4(n)))
	}
	// The first window ends with the limit at the floor; the second
	// drains the queue there, the third measures the minimum RTT; the
	// fourth runs at the saved limit again. The fourth began with the
	// probe's last rounds at the floor, and so many unqueued calls
	// (more than a quarter) say nothing queued in it.
	if want := []int{DefaultMinLimit, DefaultMinLimit, DefaultInitialLimit}; !slices.Equal(limits[:3], want) {
		t.Fatalf("limits after the first windows = %v, want %v then a gradient step", limits, want)
	}
	// Every call of the next window takes five times the minimum RTT or
	// more: the gradient is clamped to 0.5, and the limit is est/2 +
	// √(est/2)/2.
	est := l.est
	half := est / 2
	if got, want := windowOf(t, l, clk, l.Limit(), workers4(l.Limit())), int(half+math.Sqrt(half)/2); got != want {
		t.Errorf("limit after a window at 5x the minimum RTT = %d, want %d (from %.1f)", got, want, est)
	}
	// The histogram's buckets are 1/16 to 1/8 of their latency wide.
	if got, want := l.ctrl.(*gradient).minRTT, float64(5*time.Millisecond); math.Abs(got-want) > want/8 {
		t.Errorf("minRTT = %v, want %v ± 12.5%%", time.Duration(got), time.Duration(want))
	}
}

// TestGradientHoldsLatency checks the point of Gradient: under sustained
// overload of a service whose latency grows with the calls in flight, the
// limit settles near the service's own concurrency, so that admitted calls
// wait about one service time, and stays there.
func TestGradientHoldsLatency(t *testing.T) {
	clk := callguardtest.NewClock()
	l := New(WithClock(clk))
	for range 600 { // about a minute of overload: one probe or two more
		windowOf(t, l, clk, l.Limit(), workers4(l.Limit()))
	}
	// Sample the limit outside a probe.
	got := l.Limit()
	for got == DefaultMinLimit {
		got = windowOf(t, l, clk, l.Limit(), workers4(l.Limit()))
	}
	t.Logf("4 workers saturated for a minute: limit %d, latency %v", got, workers4(got))
	if got < 4 || got > 10 {
		t.Errorf("limit = %d, want in [4, 10]", got)
	}
}

func TestGradientReprobes(t *testing.T) {
	clk := callguardtest.NewClock()
	l := New(WithClock(clk), WithAlgorithm(Gradient{MinRTTInterval: time.Second}))
	probes := 0
	for range 200 { // 20s or more of windows
		if windowOf(t, l, clk, 8, 5*time.Millisecond) == DefaultMinLimit {
			probes++
		}
	}
	// One probe at the start and one about every second (±15%), each one
	// window at the floor.
	if probes < 10 {
		t.Errorf("windows ending at the floor in 20s with a 1s interval = %d, want >= 10", probes)
	}
}

func TestGradientDropsAndAppLimited(t *testing.T) {
	clk := callguardtest.NewClock()
	l := New(WithClock(clk), WithInitialLimit(100))
	for range 3 { // the probe: a window to start it, one to drain, one to measure
		windowOf(t, l, clk, 100, 5*time.Millisecond)
	}
	if got := l.Limit(); got != 100 {
		t.Fatalf("Limit() after the probe = %d, want 100 restored", got)
	}
	// The first window at 10 in flight began with the probe's last
	// rounds at 100; the second is app-limited throughout.
	before := windowOf(t, l, clk, 10, 5*time.Millisecond)
	if got := windowOf(t, l, clk, 10, 5*time.Millisecond); got != before {
		t.Errorf("Limit() after an app-limited window = %d, want %d", got, before)
	}
	rounds(t, l, clk, 110*time.Millisecond, 10*time.Millisecond, Dropped)
	if got, want := l.Limit(), int(float64(before)*0.9); got != want {
		t.Errorf("Limit() after a window of drops = %d, want %d", got, want)
	}
}

func TestNewGradientPanics(t *testing.T) {
	for _, tt := range []struct {
		give Gradient
		want string
	}{
		{Gradient{Buffer: -1}, "loadshed: Gradient buffer must be in [0, 1], got -1"},
		{Gradient{MinRTTInterval: -1}, "loadshed: Gradient min RTT interval must be in (0, 24h], got -1ns"},
		{Gradient{MinRTTInterval: 25 * time.Hour}, "loadshed: Gradient min RTT interval must be in (0, 24h], got 25h0m0s"},
		{Gradient{Backoff: 1}, "loadshed: Gradient backoff must be in [0.5, 1), got 1"},
	} {
		func() {
			defer func() {
				if got := recover(); got != tt.want {
					t.Errorf("New(WithAlgorithm(%+v)) panicked with %v, want %q", tt.give, got, tt.want)
				}
			}()
			New(WithAlgorithm(tt.give))
		}()
	}
}

// TestCanceledAfterLongWait checks that a request whose caller gave up is
// a drop when it held its slot for more than twice the long-term latency,
// and no sample when it did not: the first backs the limit off, the second
// leaves it as it was. Without this, callers that all gave up after a long
// wait left a limit that had grown too high where it was for good.
func TestCanceledAfterLongWait(t *testing.T) {
	for _, tt := range []struct {
		rtt  time.Duration
		want int
	}{
		{100 * time.Millisecond, 81}, // 20 times the latency: two windows of drops
		{8 * time.Millisecond, 100},  // within twice the latency: no sample
	} {
		clk := callguardtest.NewClock()
		l := New(WithClock(clk), WithAlgorithm(Gradient2{}), WithInitialLimit(100))
		for range 3 {
			windowOf(t, l, clk, 30, 5*time.Millisecond) // app-limited: learn the latency only
		}
		if got := l.Limit(); got != 100 {
			t.Fatalf("Limit() after app-limited windows = %d, want 100", got)
		}
		rounds(t, l, clk, 2*DefaultWindow, tt.rtt, Canceled)
		windowOf(t, l, clk, 30, 5*time.Millisecond)
		if got := l.Limit(); got != tt.want {
			t.Errorf("callers leaving after %v: Limit() = %d, want %d", tt.rtt, got, tt.want)
		}
	}
}

// TestRelayedRefusalsKeepLimit: a server whose handlers pass on a
// dependency's refusals (overloaded errors) is not itself overloaded, and
// its limit stays where it was. Counted as drops, a dependency's outage
// shrank an idle server's limit from 16 to 3.
func TestRelayedRefusalsKeepLimit(t *testing.T) {
	clk := callguardtest.NewClock()
	l := New(WithClock(clk), WithAlgorithm(Gradient2{}), WithInitialLimit(16))
	refused := callguard.Overloaded(0, errors.New("payments: 503"))
	for range 50 { // 5s of windows
		for range 8 {
			if err := l.Do(context.Background(), func(context.Context) error { clk.Advance(time.Millisecond); return refused }); err != refused {
				t.Fatalf("Do = %v, want the handler's error", err)
			}
		}
		clk.Advance(10 * time.Millisecond)
	}
	if got := l.Limit(); got != 16 {
		t.Errorf("Limit() after 5s of relayed refusals = %d, want 16", got)
	}
}

// probed returns a Gradient limiter at limit 40 whose probe measured a
// minimum RTT of 10ms.
func probed(t *testing.T, clk *callguardtest.Clock) *Limiter {
	t.Helper()
	l := New(WithClock(clk), WithInitialLimit(40))
	for range 3 {
		windowOf(t, l, clk, 40, 10*time.Millisecond)
	}
	if got := l.Limit(); got != 40 {
		t.Fatalf("Limit() after the probe = %d, want 40", got)
	}
	return l
}

// TestGradientMinRTTOnlyFromProbes: one window of fast calls (cache hits)
// does not lower the minimum RTT, so the ordinary calls after it, which do
// not queue, keep the limit. When a fast window lowered it, the limit fell
// from 40 towards 7, below the 10 calls the service needed.
func TestGradientMinRTTOnlyFromProbes(t *testing.T) {
	clk := callguardtest.NewClock()
	l := probed(t, clk)
	windowOf(t, l, clk, 10, 2*time.Millisecond)
	for range 10 {
		windowOf(t, l, clk, 10, 10*time.Millisecond)
	}
	if got := l.Limit(); got < 40 {
		t.Errorf("Limit() after a fast window and 10 ordinary ones = %d, want >= 40", got)
	}
}

// TestGradientLoneDrop: one drop in a window of a hundred releases (a slow
// call whose user left) does not back the limit off; a window with 5% of
// drops does.
func TestGradientLoneDrop(t *testing.T) {
	for _, tt := range []struct {
		drops int
		want  bool // backed off
	}{{1, false}, {5, true}} {
		clk := callguardtest.NewClock()
		l := probed(t, clk)
		for i := range 100 {
			tok, err := l.Acquire(critical)
			if err != nil {
				t.Fatal(err)
			}
			clk.Advance(time.Millisecond + time.Millisecond/10) // ≥ 100ms in all
			if i < tt.drops {
				tok.Release(Dropped)
			} else {
				tok.Release(Success)
			}
		}
		if got := l.Limit(); (got < 40) != tt.want {
			t.Errorf("%d drops in 100: Limit() = %d, backed off %v, want %v", tt.drops, got, got < 40, tt.want)
		}
	}
}

// TestGradientSubMicrosecond: a service of sub-microsecond calls keeps its
// limit when a few slower ones come later; measured in whole microseconds,
// its minimum RTT was 0, the slower calls looked like queueing, and the
// limit fell to the floor.
func TestGradientSubMicrosecond(t *testing.T) {
	clk := callguardtest.NewClock()
	l := New(WithClock(clk), WithInitialLimit(50))
	for i := range 1_000_000 { // 0.84s: eight windows or more, the probe done
		tok, err := l.Acquire(critical)
		if err != nil {
			t.Fatalf("call %d refused at limit %d", i, l.Limit())
		}
		d := 800 * time.Nanosecond
		if i > 400_000 && i%50 == 0 { // after the probe: the scheduler's noise
			d = 3 * time.Microsecond
		}
		clk.Advance(d)
		tok.Release(Success)
	}
	if got := l.Limit(); got < 50 {
		t.Errorf("Limit() after 1M sub-microsecond calls = %d, want >= 50", got)
	}
}

// TestCanceledFromStart: callers that all give up after a long wait from
// the very start, before any latency is known, still shrink the limit.
func TestCanceledFromStart(t *testing.T) {
	clk := callguardtest.NewClock()
	l := New(WithClock(clk))
	rounds(t, l, clk, 20*time.Second, 2*time.Second, Canceled)
	if got := l.Limit(); got >= DefaultInitialLimit {
		t.Errorf("Limit() after 20s of callers leaving after 2s = %d, want < %d", got, DefaultInitialLimit)
	}
}
