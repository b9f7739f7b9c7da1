package main

import (
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testTimeline is a shortened script. Its figures are counts, compared with
// generous bounds; no bound depends on how fast the machine is.
var testTimeline = timeline{
	warm:   500 * time.Millisecond,
	outage: 3 * time.Second,
	fault:  1500 * time.Millisecond,
	skip:   time.Second, // the breaker's warm-up
}

// TestCascade runs scenarios a, d and e, without callguard and with it (a
// also with route availability), and checks callguard's rows as -check
// does: calls reaching payments while it is down ≤ 0.1 per checkout after
// warm-up (with routes, at least half the checkouts refused at the edge);
// the loop refused at api on its first revisit; no payments request
// started with less time left than its work. The rows without callguard
// show that the counts count.
func TestCascade(t *testing.T) {
	ids := "ade"
	if testing.Short() {
		ids = "a"
	}
	for _, sc := range scenarios {
		if !containsID(ids, sc.id) {
			continue
		}
		t.Run(sc.id, func(t *testing.T) {
			rs, err := sc.runAll(testTimeline)
			if err != nil {
				t.Fatal(err)
			}
			without, with := rs[0], rs[1]
			if with.routeNWarm == 0 || without.routeNWarm == 0 {
				t.Fatalf("no %s requests after warm-up (without %d, with %d)", routePaths[sc.route], without.routeNWarm, with.routeNWarm)
			}
			for _, err := range with.check() {
				t.Error(err)
			}
			_, warm := without.perRequest()
			switch sc.id {
			case "a":
				if warm < 1 {
					t.Errorf("without callguard: %.2f payments attempts per checkout after warm-up, want ≥ 1 (retry loops at every tier)", warm)
				}
			case "d":
				if n := without.c[apiArrivals]; float64(n) <= 2.5*float64(without.routeN) {
					t.Errorf("without callguard: %d checkout requests reached api for %d edge checkouts, want > 2.5 each (the loop nests)", n, without.routeN)
				}
			}
			t.Logf("without: %.2f %s per %s; with: %.2f", warm, sc.counted, routePaths[sc.route], func() float64 { _, w := with.perRequest(); return w }())
		})
	}
}

func containsID(ids, id string) bool {
	for _, c := range ids {
		if string(c) == id {
			return true
		}
	}
	return false
}
