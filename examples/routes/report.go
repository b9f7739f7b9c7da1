package main

import (
	"fmt"
	"io"
	"time"
)

// A result is the outcomes of one setup, and the times of the outage.
type result struct {
	outcomes     []outcome
	downAt, upAt time.Duration
	apiCheckouts int64 // checkout requests that reached api from downAt+1s to upAt
}

// share returns the share of the outcomes of one route started in [from,
// to) for which f holds, and their count.
func (r result) share(checkout bool, from, to time.Duration, f func(outcome) bool) (float64, int) {
	n, k := 0, 0
	for _, o := range r.outcomes {
		if o.checkout == checkout && o.start >= from && o.start < to {
			n++
			if f(o) {
				k++
			}
		}
	}
	if n == 0 {
		return 0, 0
	}
	return float64(k) / float64(n), n
}

func refused(o outcome) bool { return o.refused }
func ok(o outcome) bool      { return o.ok }

// refusedAtEdge is the share of checkout requests refused at the edge from
// 1 s after the outage began to its end.
func (r result) refusedAtEdge() float64 {
	s, _ := r.share(true, r.downAt+time.Second, r.upAt, refused)
	return s
}

// reachedAPI is the share of those checkout requests that reached api.
func (r result) reachedAPI() float64 {
	_, n := r.share(true, r.downAt+time.Second, r.upAt, refused)
	if n == 0 {
		return 0
	}
	return float64(r.apiCheckouts) / float64(n)
}

// firstRefusal is how long after the outage began the edge first refused a
// checkout itself; -1 if never.
func (r result) firstRefusal() time.Duration {
	for _, o := range r.outcomes {
		if o.checkout && o.refused && o.start >= r.downAt {
			return o.start - r.downAt
		}
	}
	return -1
}

// checkoutBack is how long after payments came back checkout requests
// succeeded again: the start of the first of the checkout requests after
// which every one succeeded; -1 if they never did.
func (r result) checkoutBack() time.Duration {
	back := time.Duration(-1)
	for _, o := range r.outcomes {
		if !o.checkout || o.start < r.upAt {
			continue
		}
		switch {
		case !o.ok:
			back = -1
		case back < 0:
			back = o.start - r.upAt
		}
	}
	return back
}

func (r result) browseDuring() float64 {
	s, _ := r.share(false, r.downAt, r.upAt, ok)
	return s
}

func (r result) browseAfter() float64 {
	s, _ := r.share(false, r.upAt, 1<<62, ok)
	return s
}

func pct(f float64) string { return fmt.Sprintf("%.1f%%", 100*f) }

func secs(d time.Duration) string {
	if d < 0 {
		return "never"
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}

func printTable(w io.Writer, cfg config, without, with result) {
	fmt.Fprintf(w, "%-22s %14s %12s %14s %12s %12s %13s\n",
		"edge", "checkout", "checkout", "first refusal", "browse ok", "browse ok", "checkout back")
	fmt.Fprintf(w, "%-22s %14s %12s %14s %12s %12s %13s\n",
		"", "refused@edge*", "reached api*", "at the edge", "in outage", "after", "after payments")
	for _, row := range []struct {
		name string
		r    result
	}{{"per-service breakers", without}, {"+ route table", with}} {
		fmt.Fprintf(w, "%-22s %14s %12s %14s %12s %12s %13s\n", row.name,
			pct(row.r.refusedAtEdge()), pct(row.r.reachedAPI()), secs(row.r.firstRefusal()),
			pct(row.r.browseDuring()), pct(row.r.browseAfter()), secs(row.r.checkoutBack()))
	}
	fmt.Fprintf(w, "\n* checkout requests started from 1 s after payments went down until it came back (%v).\n", cfg.outage-time.Second)
}

// check reports whether the setup with the route table meets G17, and
// names each figure that misses.
func check(w io.Writer, r result) bool {
	good := true
	for _, c := range []struct {
		name      string
		got, want float64
		atMost    bool
	}{
		{"checkout refused at the edge", r.refusedAtEdge(), 0.99, false},
		{"checkout reaching api", r.reachedAPI(), 0.01, true},
		{"browse success during the outage", r.browseDuring(), 0.99, false},
		{"browse success after the outage", r.browseAfter(), 0.99, false},
	} {
		if (c.atMost && c.got > c.want) || (!c.atMost && c.got < c.want) {
			rel := "≥"
			if c.atMost {
				rel = "≤"
			}
			fmt.Fprintf(w, "check: %s %s, want %s %s\n", c.name, pct(c.got), rel, pct(c.want))
			good = false
		}
	}
	if good {
		fmt.Fprintln(w, "check: ok")
	}
	return good
}
