package loadshed

import (
	"math"
	"testing"
	"time"

	"github.com/callguard/callguard/callguardtest"
	"github.com/callguard/callguard/internal/race"
)

func TestBuckets(t *testing.T) {
	prev := -1
	for _, ns := range []uint64{0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 1000, 4_999_999, 5_000_000, 1 << 39, maxRTT} {
		i := bucketOf(ns)
		lo, w := bucketBounds(i)
		if float64(ns) < lo || float64(ns) >= lo+w {
			t.Errorf("bucketOf(%d) = %d, whose bounds are [%v, %v)", ns, i, lo, lo+w)
		}
		if w > math.Max(1, lo/8) {
			t.Errorf("bucket %d: width %v for a lower bound of %v, want <= 1/8 of it", i, w, lo)
		}
		if i < prev || i >= numBuckets {
			t.Errorf("bucketOf(%d) = %d after %d, want increasing and < %d", ns, i, prev, numBuckets)
		}
		prev = i
	}
	if got := bucketOf(math.MaxUint64); got != numBuckets-1 {
		t.Errorf("bucketOf(MaxUint64) = %d, want the last bucket %d", got, numBuckets-1)
	}
}

func TestSummarize(t *testing.T) {
	var h [numBuckets]uint64
	var sum float64
	for us := range uint64(1000) { // 1µs to 1ms, evenly
		ns := (us + 1) * 1000
		h[bucketOf(ns)]++
		sum += float64(ns)
	}
	s := summarize(&h, 1000, 0.25)
	if want := 250e3; math.Abs(s.quan-want) > want/8 {
		t.Errorf("p25 = %v, want %v ± 12.5%%", time.Duration(s.quan), time.Duration(want))
	}
	if want := sum / 1000; math.Abs(s.mean-want) > want/16 {
		t.Errorf("mean = %v, want %v ± 6.25%%", time.Duration(s.mean), time.Duration(want))
	}
	h = [numBuckets]uint64{}
	h[0] = 10 // calls that took no time
	if s := summarize(&h, 10, 0.25); s.quan != 1 || s.mean != 1 {
		t.Errorf("summary of zero latencies = %+v, want 1ns for both", s)
	}
}

// halfSlow runs d of rounds of up to 40 calls, as many as the limit
// admits: half of them take fast, the other half slow (the calls that wait
// for a slow dependency).
func halfSlow(l *Limiter, clk *callguardtest.Clock, d, fast, slow time.Duration) {
	for range d / slow {
		toks := make([]Token, 0, 40)
		for range 40 {
			tok, err := l.Acquire(critical)
			if err != nil {
				break
			}
			toks = append(toks, tok)
		}
		clk.Advance(fast)
		for _, tok := range toks[:len(toks)/2] {
			tok.Release(Success)
		}
		clk.Advance(slow - fast)
		for _, tok := range toks[len(toks)/2:] {
			tok.Release(Success)
		}
	}
}

// TestDependencySlowKeepsLimit: when half the calls get ten times slower
// (they wait for a slow dependency) and the other half do not, nothing
// queues in the server, and its limit stays. Summarised by its mean, each
// window looked five times slower than the minimum RTT, and the limit fell
// to its floor.
func TestDependencySlowKeepsLimit(t *testing.T) {
	clk := callguardtest.NewClock()
	l := probed(t, clk) // limit 40, minimum RTT 10ms
	halfSlow(l, clk, 2*time.Second, 10*time.Millisecond, 100*time.Millisecond)
	t.Logf("half the calls 10x slower for 2s: limit 40 → %d, long-term mean latency %v",
		l.Limit(), time.Duration(l.baseline.Load()))
	if got := l.Limit(); got < 40 {
		t.Errorf("Limit() = %d, want >= 40", got)
	}
	// The mean, which the Canceled rule's patience follows, did see the
	// slow calls.
	if got := time.Duration(l.baseline.Load()); got < 20*time.Millisecond {
		t.Errorf("long-term mean latency = %v, want >= 20ms (half the calls take 100ms)", got)
	}
}

// TestAllSlowerLowersLimit: when every call gets slower, the server itself
// queues, and the limit falls.
func TestAllSlowerLowersLimit(t *testing.T) {
	for _, tt := range []struct {
		name       string
		fast, slow time.Duration
	}{
		{"all 3x", 30 * time.Millisecond, 30 * time.Millisecond},
		{"all 2x, half 10x", 20 * time.Millisecond, 100 * time.Millisecond},
	} {
		clk := callguardtest.NewClock()
		l := probed(t, clk)
		halfSlow(l, clk, time.Second, tt.fast, tt.slow)
		if got := l.Limit(); got >= 40 {
			t.Errorf("%s: Limit() = %d, want < 40", tt.name, got)
		}
	}
}

// TestWindowAllocs: closing a window, which reads and resets the
// histogram, allocates nothing either.
func TestWindowAllocs(t *testing.T) {
	if testing.Short() || race.Enabled {
		t.Skip("allocation guard: skipped in -short and under -race")
	}
	clk := callguardtest.NewClock()
	l := New(WithClock(clk))
	seq := l.seq.Load()
	if n := testing.AllocsPerRun(1000, func() {
		tok, _ := l.Acquire(bg)
		clk.Advance(time.Millisecond)
		tok.Release(Success)
	}); n != 0 {
		t.Errorf("Acquire, Release allocs = %v, want 0", n)
	}
	if l.seq.Load()-seq < 5 {
		t.Errorf("windows closed in 1s = %d, want >= 5", l.seq.Load()-seq)
	}
}

// TestMixShiftAppLimited: when the fast calls leave the mix (their
// dependency fails fast, and relayed refusals are no samples), the 25th
// percentile moves to the slower calls left; a server holding a few calls
// under a high limit keeps it. Cutting it, an edge holding 2 or 3 calls
// fell to its floor and refused calls the fault did not concern.
func TestMixShiftAppLimited(t *testing.T) {
	clk := callguardtest.NewClock()
	l := probed(t, clk) // limit 40, minimum RTT 10ms
	for range 100 {     // 2s
		round(t, l, clk, 3, 20*time.Millisecond, Success)
	}
	if got := l.Limit(); got < 40 {
		t.Errorf("Limit() after 2s of 3 calls at twice the minimum RTT = %d, want >= 40", got)
	}
}
