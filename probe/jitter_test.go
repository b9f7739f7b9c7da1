package probe

import (
	"context"
	"testing"
	"time"
)

// TestWaitJitter: waits spread over the whole interval ± jitter, and never
// beyond it.
func TestWaitJitter(t *testing.T) {
	t.Parallel()
	p := New("p", []Step{{Name: "a", Do: noop}}, WithInterval(10*time.Second), WithJitter(0.2))
	lo, hi := time.Duration(1<<62), time.Duration(0)
	for range 1000 {
		w := p.wait()
		lo, hi = min(lo, w), max(hi, w)
	}
	if lo < 8*time.Second || hi > 12*time.Second {
		t.Errorf("waits in [%v, %v], want within [8s, 12s]", lo, hi)
	}
	// 1000 uniform draws all above 9s, or all below 11s: probability 2·0.75^1000.
	if lo > 9*time.Second || hi < 11*time.Second {
		t.Errorf("waits in [%v, %v], want spread over [8s, 12s]", lo, hi)
	}
	if w := New("p", []Step{{Name: "a", Do: noop}}, WithInterval(10*time.Second), WithJitter(0)).wait(); w != 10*time.Second {
		t.Errorf("wait without jitter = %v, want 10s", w)
	}
}

func noop(context.Context) error { return nil }
