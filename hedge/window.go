package hedge

import (
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// A window estimates a latency quantile over the last samples: a ring of
// fixed size, sorted into a scratch copy every refresh samples. Memory is
// two slices of the window's size; adding is O(1) except for the sort,
// O(n log n) once every n/10 samples.
type window struct {
	q       float64
	refresh int
	cur     atomic.Int64 // the quantile in ns; -1 until the first estimate

	mu      sync.Mutex
	ring    []time.Duration // guarded by mu
	next    int             // where the next sample goes; guarded by mu
	full    bool            // the ring has wrapped; guarded by mu
	since   int             // samples since the last estimate; guarded by mu
	scratch []time.Duration // guarded by mu
}

func newWindow(q float64, size int) *window {
	w := &window{q: q, refresh: max(1, size/10), ring: make([]time.Duration, size), scratch: make([]time.Duration, size)}
	w.cur.Store(-1)
	return w
}

// add records a sample.
func (w *window) add(d time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ring[w.next] = d
	w.next++
	if w.next == len(w.ring) {
		w.next, w.full = 0, true
	}
	w.since++
	if w.since < w.refresh {
		return
	}
	w.since = 0
	n := w.next
	if w.full {
		n = len(w.ring)
	}
	s := w.scratch[:n]
	copy(s, w.ring[:n])
	slices.Sort(s)
	i := int(math.Ceil(w.q*float64(n))) - 1 // the nearest-rank quantile
	w.cur.Store(int64(s[max(0, min(i, n-1))]))
}

// quantile returns the current estimate, or ok false before the first.
func (w *window) quantile() (d time.Duration, ok bool) {
	v := w.cur.Load()
	return time.Duration(v), v >= 0
}
