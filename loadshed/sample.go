package loadshed

import "time"

// The sums of a window pack, in one word so that a release adds both with
// one atomic operation, the count of samples in the low countBits bits and
// the sum of their latencies, in ns, above. A window closes early when
// either half fills, so neither overflows: 2^19 samples, 2^43 ns (2.4 h of
// latency summed). Nanoseconds, not microseconds: summed in µs, calls
// faster than 1µs counted as 0, and a minimum RTT of 0 pinned Gradient's
// limit to its floor.
const (
	countBits = 20
	countMask = 1<<countBits - 1
	maxSum    = 1<<(64-countBits) - 1
)

// sample records the latency of one released request and, when the
// sampling window is over, recomputes the limit.
//
// The window's counters are atomics that every release updates without a
// lock; closing the window swaps them out one by one under l.ctl, so a
// sample that races the close may count in either window. The limit is an
// estimate from averages: that imprecision is far below its noise.
func (l *Limiter) sample(start, inflight int64, o Outcome) {
	now := l.nanotime()
	if o == Canceled {
		// A caller that left before the long-term latency doubled says
		// nothing; one that left after waiting longer says the queue is
		// too long for its patience. Before the first window there is
		// no latency to compare with: a caller that waited longer than
		// a whole window gave up on a queue, so that callers who all
		// leave from the start still close windows and shrink the limit.
		limit := 2 * l.baseline.Load()
		if limit == 0 {
			limit = int64(l.window)
		}
		if now-start <= limit {
			return
		}
		o = Dropped
	}
	drop := o == Dropped
	rtt := uint64(max(now-start, 0))
	w := l.win.sums.Add(min(rtt, maxSum)<<countBits | 1)
	if drop {
		l.win.drops.Add(1)
	}
	for m := l.win.maxIn.Load(); inflight > m; m = l.win.maxIn.Load() {
		if l.win.maxIn.CompareAndSwap(m, inflight) {
			break
		}
	}
	if (now >= l.next.Load() || w&countMask >= countMask/2 || w>>countBits >= maxSum/2) && l.ctl.TryLock() {
		l.closeWindow(now)
		l.ctl.Unlock()
	}
}

// closeWindow ends the sampling window if it has lasted long enough and
// holds enough samples, and feeds it to the controller. It requires that
// l.ctl is held.
func (l *Limiter) closeWindow(now int64) {
	sums := l.win.sums.Load()
	full := sums&countMask >= countMask/2 || sums>>countBits >= maxSum/2
	if !full && (now < l.next.Load() || sums&countMask < DefaultWindowSamples) {
		return
	}
	sums = l.win.sums.Swap(0)
	n := sums & countMask
	w := window{
		at:          now,
		rtt:         max(float64(sums>>countBits)/float64(n), 1),
		samples:     int64(n),
		maxInflight: l.win.maxIn.Swap(0),
		drops:       l.win.drops.Swap(0),
		shed:        l.shedInWindow(),
	}
	l.est = min(max(l.ctrl.update(l.est, w), l.minLimit), l.maxLimit)
	l.baseline.Store(int64(l.ctrl.baseline()))
	length := min(max(time.Duration(2*w.rtt), l.window), max(l.window, time.Second))
	l.next.Store(now + int64(length))
	l.seq.Add(1)
	l.setLimit(int(l.est))
}

// shedInWindow reports whether the limiter refused a request in the
// current window.
func (l *Limiter) shedInWindow() bool {
	s := l.seq.Load() + 1
	for i := range l.shedSeq {
		if l.shedSeq[i].Load() == s {
			return true
		}
	}
	return false
}

// setLimit makes n the limit and derives the bound of each priority. It is
// called by New and with l.ctl held.
func (l *Limiter) setLimit(n int) {
	old := l.limit.Swap(int64(n))
	if old == int64(n) {
		return
	}
	for i, share := range l.shares {
		l.allow[i].Store(max(1, int64(float64(n)*share+1e-9)))
	}
	if old < 0 {
		return // New
	}
	if l.onLimit != nil {
		l.onLimit(int(old), n)
	}
	if int64(n) > old && l.waiting.Load() != 0 {
		l.handOff()
	}
}
