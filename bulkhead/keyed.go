package bulkhead

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// A Keyed keeps one [Bulkhead] per key (per host, per backend, per tenant),
// so that one slow copy of a service fills its own slots and not the
// others'. Bulkheads are made on first use, all with the same limit and
// options. It is safe for concurrent use. The zero value is not usable;
// call [NewKeyed].
//
// The number of keys is bounded. When a new key comes and maxKeys are
// held, the bulkheads idle for longer than the idle time are dropped
// first, then the least recently used one; a bulkhead with a call in it
// is never dropped. When every held bulkhead has a call in it, a call
// with a new key is refused with [ErrFull].
type Keyed struct {
	maxKeys int
	idle    int64 // ns; 0: no idle eviction
	n       int   // the limit of each bulkhead
	opts    []Option
	epoch   time.Time
	now     func() int64 // ns since epoch; replaced by tests
	touch   int64        // ns: how stale last may get before a use updates it

	m     sync.Map   // string -> *keyedEntry
	mu    sync.Mutex // serialises additions and evictions
	count int        // entries in m; guarded by mu
}

type keyedEntry struct {
	b    *Bulkhead
	last atomic.Int64 // last use, ns since the Keyed's epoch
	// users counts the calls between lookup and return; -1 marks an
	// entry that was dropped, which no call may use any more.
	users atomic.Int64
}

// pin marks e as in use, unless it was dropped.
func (e *keyedEntry) pin() bool {
	for {
		v := e.users.Load()
		if v < 0 {
			return false
		}
		if e.users.CompareAndSwap(v, v+1) {
			return true
		}
	}
}

// NewKeyed returns a Keyed that holds at most maxKeys bulkheads of n slots
// each, made with opts (see [New]), and drops those unused for idle when it
// needs room (zero: only by least recent use). It panics if maxKeys < 1,
// idle < 0, or New(n, opts...) would panic.
func NewKeyed(maxKeys int, idle time.Duration, n int, opts ...Option) *Keyed {
	if maxKeys < 1 {
		panic(fmt.Sprintf("bulkhead: max keys must be >= 1, got %d", maxKeys))
	}
	if idle < 0 {
		panic(fmt.Sprintf("bulkhead: idle time must be >= 0, got %v", idle))
	}
	New(n, opts...) // validates
	k := &Keyed{maxKeys: maxKeys, idle: int64(idle), n: n, opts: opts, epoch: time.Now()}
	k.now = func() int64 { return int64(time.Since(k.epoch)) }
	k.touch = max(int64(time.Millisecond), k.idle/16)
	return k
}

// Do runs fn under key's bulkhead, as [Bulkhead.Do], making the bulkhead
// if needed. A call with a key that is held allocates nothing more than
// Bulkhead.Do.
func (k *Keyed) Do(ctx context.Context, key string, fn func(context.Context) error) error {
	e := k.pinned(key)
	if e == nil {
		return ErrFull
	}
	defer e.users.Add(-1)
	return e.b.Do(ctx, fn)
}

// Get returns key's bulkhead if it is held, for reading its
// [Bulkhead.InFlight]. Calls must go through [Keyed.Do]: the bulkhead may
// be dropped once idle.
func (k *Keyed) Get(key string) (*Bulkhead, bool) {
	if v, ok := k.m.Load(key); ok {
		return v.(*keyedEntry).b, true
	}
	return nil, false
}

// Len returns the number of bulkheads held.
func (k *Keyed) Len() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.count
}

// pinned returns key's entry, pinned, or nil when there is no room for it.
func (k *Keyed) pinned(key string) *keyedEntry {
	for {
		now := k.now()
		v, ok := k.m.Load(key)
		if !ok {
			var added bool
			if v, added = k.add(key, now); !added {
				return nil
			}
		}
		e := v.(*keyedEntry)
		if !e.pin() {
			continue // dropped since the lookup: look again
		}
		if now-e.last.Load() > k.touch {
			e.last.Store(now)
		}
		return e
	}
}

// add makes key's entry, evicting others if maxKeys are held. It reports
// false when every held entry is in use.
func (k *Keyed) add(key string, now int64) (any, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if v, ok := k.m.Load(key); ok {
		return v, true
	}
	if k.count >= k.maxKeys {
		k.evict(now)
		if k.count >= k.maxKeys {
			return nil, false
		}
	}
	e := &keyedEntry{b: New(k.n, k.opts...)}
	e.last.Store(now)
	k.m.Store(key, e)
	k.count++
	return e, true
}

// evict drops the idle entries not in use, or else the least recently
// used one not in use. The caller holds mu.
func (k *Keyed) evict(now int64) {
	var (
		oldest     *keyedEntry
		oldestKey  any
		oldestLast int64
	)
	k.m.Range(func(key, v any) bool {
		e := v.(*keyedEntry)
		last := e.last.Load()
		if k.idle > 0 && now-last > k.idle && e.users.CompareAndSwap(0, -1) {
			k.m.Delete(key)
			k.count--
			return true
		}
		if e.users.Load() == 0 && (oldest == nil || last < oldestLast) {
			oldest, oldestKey, oldestLast = e, key, last
		}
		return true
	})
	if k.count >= k.maxKeys && oldest != nil && oldest.users.CompareAndSwap(0, -1) {
		k.m.Delete(oldestKey)
		k.count--
	}
}
