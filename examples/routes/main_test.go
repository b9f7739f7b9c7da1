package main

import (
	"io"
	"testing"
	"time"
)

// TestShortRun runs a shortened G17 and checks generous bounds only (the
// figures come from the program): with the route table the edge refuses
// most checkout requests itself while browse succeeds; without it, it
// refuses none.
func TestShortRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for about 10 s")
	}
	cfg := config{warmup: time.Second, outage: 3 * time.Second, after: time.Second, rate: 100, probe: 2 * time.Second}
	without, with := run(cfg, false), run(cfg, true)
	printTable(io.Discard, cfg, without, with)
	if got := without.refusedAtEdge(); got != 0 {
		t.Errorf("without the table: %.1f%% of checkout refused at the edge, want 0", 100*got)
	}
	if got := with.refusedAtEdge(); got < 0.9 {
		t.Errorf("with the table: %.1f%% of checkout refused at the edge, want >= 90%%", 100*got)
	}
	if got := with.browseDuring(); got < 0.95 {
		t.Errorf("with the table: browse success during the outage %.1f%%, want >= 95%%", 100*got)
	}
	if d := with.firstRefusal(); d < 0 || d > time.Second {
		t.Errorf("with the table: first refusal at the edge %v after the outage began, want within 1s", d)
	}
}
