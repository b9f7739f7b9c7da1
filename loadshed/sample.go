package loadshed

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// windowQuantile is the quantile of its latencies by which a sampling
// window is summarised for the controller, not their mean. Queueing in
// the server delays every request and so moves a low quantile; a slow
// dependency delays only the requests that use it and does not, as long
// as a quarter of the requests or more do not use it. Envoy's adaptive
// concurrency filter takes a percentile too (sample_aggregate_percentile,
// p50 by default); a median moves as soon as half the requests slow. A
// lower quantile sees less of the queueing that random arrivals cause: in
// the simulation of TestPriorityOverload the p99 was 20ms with p50, 23ms
// with p25, 27ms with p10 (18ms with the mean).
const windowQuantile = 0.25

// The latency histogram of a window has subBuckets buckets per power of
// two of nanoseconds, each 1/8 to 1/16 of its lower bound wide; latencies
// from maxRTT on count in the last bucket.
const (
	subBits    = 3
	subBuckets = 1 << subBits
	maxRTT     = 1<<40 - 1 // ns, about 18 minutes
	numBuckets = (40-subBits)<<subBits + subBuckets
)

// winStats holds the counters of the current sampling window. Every
// release updates them without a lock; closing the window swaps them out
// one by one under l.ctl, so a sample that races the close may count in
// either window.
type winStats struct {
	drops, maxIn atomic.Int64
	hist         [numBuckets]atomic.Uint64 // samples by bucketOf(latency)
}

// bucketOf returns the histogram bucket of a latency of ns nanoseconds.
func bucketOf(ns uint64) int {
	ns = min(ns, maxRTT)
	if ns < subBuckets {
		return int(ns)
	}
	e := bits.Len64(ns) - 1 // >= subBits
	return (e-subBits+1)<<subBits | int(ns>>(e-subBits)&(subBuckets-1))
}

// bucketBounds returns the lowest latency of bucket i and its width, in ns.
func bucketBounds(i int) (lo, width float64) {
	if i < subBuckets {
		return float64(i), 1
	}
	e := i>>subBits + subBits - 1
	w := float64(uint64(1) << (e - subBits))
	return float64(subBuckets+i&(subBuckets-1)) * w, w
}

// summary is what the histogram of a window says.
type summary struct {
	n          uint64
	mean, quan float64 // ns
}

// summarize reads the histogram h of n samples (n > 0): their mean and
// their quantile q, interpolated within its bucket, both at least 1ns.
func summarize(h *[numBuckets]uint64, n uint64, q float64) summary {
	s := summary{n: n, quan: -1}
	rank, cum, sum := q*float64(n), 0.0, 0.0
	for i, c := range h {
		if c == 0 {
			continue
		}
		lo, w := bucketBounds(i)
		sum += float64(c) * (lo + w/2)
		if s.quan < 0 && cum+float64(c) >= rank {
			s.quan = lo + w*(rank-cum)/float64(c)
		}
		cum += float64(c)
	}
	s.mean, s.quan = max(sum/float64(n), 1), max(s.quan, 1)
	return s
}

// sample records the latency of one released request and, when the
// sampling window is over, recomputes the limit.
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
	l.win.hist[bucketOf(uint64(max(now-start, 0)))].Add(1)
	if o == Dropped {
		l.win.drops.Add(1)
	}
	for m := l.win.maxIn.Load(); inflight > m; m = l.win.maxIn.Load() {
		if l.win.maxIn.CompareAndSwap(m, inflight) {
			break
		}
	}
	if now >= l.next.Load() && l.ctl.TryLock() {
		l.closeWindow(now)
		l.ctl.Unlock()
	}
}

// closeWindow ends the sampling window if it holds enough samples, and
// feeds it to the controller. It requires that l.ctl is held.
func (l *Limiter) closeWindow(now int64) {
	var n uint64
	for i := range l.win.hist {
		n += l.win.hist[i].Load()
	}
	if now < l.next.Load() || n < DefaultWindowSamples {
		return
	}
	var h [numBuckets]uint64
	n = 0
	for i := range l.win.hist {
		h[i] = l.win.hist[i].Swap(0)
		n += h[i]
	}
	s := summarize(&h, n, windowQuantile)
	w := window{
		at:          now,
		rtt:         s.quan,
		mean:        s.mean,
		samples:     int64(n),
		maxInflight: l.win.maxIn.Swap(0),
		drops:       l.win.drops.Swap(0),
		shed:        l.shedInWindow(),
	}
	l.est = min(max(l.ctrl.update(l.est, w), l.minLimit), l.maxLimit)
	l.baseline.Store(int64(l.ctrl.baseline()))
	length := min(max(time.Duration(2*w.mean), l.window), max(l.window, time.Second))
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
