package breaker

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/callguard/callguard"
)

// A Keyed keeps one [Breaker] per key: per host, per backend, per tenant,
// so that one failing copy of a service opens its own circuit and not the
// others'. Breakers are made on first use, all with the same options, and
// named after their key (the name the [OnStateChange] hook gets). It is
// safe for concurrent use. The zero value is not usable; call [NewKeyed].
//
// The number of keys is bounded. When a new key comes and maxKeys are
// held, the breakers idle for longer than the idle time are dropped
// first, then the least recently used one. A dropped breaker's state is
// lost: its key starts again closed. So choose an idle time longer than
// the open timeout, and maxKeys above the number of keys in use.
type Keyed struct {
	maxKeys int
	idle    int64 // ns; 0: no idle eviction
	opts    []Option
	clock   callguard.Clock // nil: the system clock, read through time.Since
	epoch   time.Time
	touch   int64 // ns: how stale last may get before a use updates it

	m  sync.Map   // string -> *keyedEntry
	mu sync.Mutex // serialises additions and evictions
	n  int        // entries in m; guarded by mu
}

type keyedEntry struct {
	cb   *Breaker
	last atomic.Int64 // last use, ns since the Keyed's epoch
}

// NewKeyed returns a Keyed that holds at most maxKeys breakers, drops
// those unused for idle when it needs room (zero: only by least recent
// use), and makes each breaker with opts (see [New]; [WithName] is
// replaced by the key). It panics if maxKeys < 1, idle < 0, or opts
// would make [New] panic.
func NewKeyed(maxKeys int, idle time.Duration, opts ...Option) *Keyed {
	if maxKeys < 1 {
		panic(fmt.Sprintf("breaker: max keys must be >= 1, got %d", maxKeys))
	}
	if idle < 0 {
		panic(fmt.Sprintf("breaker: idle time must be >= 0, got %v", idle))
	}
	o := defaultOptions()
	for _, opt := range opts {
		opt.apply(&o)
	}
	o.validate()
	k := &Keyed{maxKeys: maxKeys, idle: int64(idle), opts: opts}
	if o.clock != nil && o.clock != callguard.SystemClock {
		k.clock = o.clock
		k.epoch = o.clock.Now()
	} else {
		k.epoch = time.Now()
	}
	// A use refreshes the entry's time only when it is stale by 1/16 of
	// the idle time (or 1 ms), so that busy keys do not write a shared
	// cache line on every call.
	k.touch = max(int64(time.Millisecond), k.idle/16)
	return k
}

// Get returns key's breaker, making it if needed. Looking up a key that is
// held allocates nothing.
func (k *Keyed) Get(key string) *Breaker {
	now := k.nanos()
	if v, ok := k.m.Load(key); ok {
		e := v.(*keyedEntry)
		if now-e.last.Load() > k.touch {
			e.last.Store(now)
		}
		return e.cb
	}
	return k.add(key, now)
}

// nanos returns the time in ns since the epoch; time.Since reads only the
// monotonic clock, which is cheaper than time.Now.
func (k *Keyed) nanos() int64 {
	if k.clock == nil {
		return int64(time.Since(k.epoch))
	}
	return int64(k.clock.Now().Sub(k.epoch))
}

// Do runs fn under key's breaker, as [Breaker.Do].
func (k *Keyed) Do(ctx context.Context, key string, fn func(context.Context) error) error {
	return k.Get(key).Do(ctx, fn)
}

// Len returns the number of breakers held.
func (k *Keyed) Len() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.n
}

// Range calls fn for each key held and its breaker, in no order, until fn
// returns false. It does not count as a use.
func (k *Keyed) Range(fn func(key string, cb *Breaker) bool) {
	k.m.Range(func(key, v any) bool { return fn(key.(string), v.(*keyedEntry).cb) })
}

// add makes key's breaker, evicting others if maxKeys are held.
func (k *Keyed) add(key string, now int64) *Breaker {
	k.mu.Lock()
	defer k.mu.Unlock()
	if v, ok := k.m.Load(key); ok { // another goroutine added it
		return v.(*keyedEntry).cb
	}
	if k.n >= k.maxKeys {
		k.evict(now)
	}
	e := &keyedEntry{cb: New(append(k.opts[:len(k.opts):len(k.opts)], WithName(key))...)}
	e.last.Store(now)
	k.m.Store(key, e)
	k.n++
	return e.cb
}

// evict drops the idle entries, or else the least recently used one. The
// caller holds mu.
func (k *Keyed) evict(now int64) {
	var (
		oldest     any
		oldestLast int64
	)
	k.m.Range(func(key, v any) bool {
		last := v.(*keyedEntry).last.Load()
		if k.idle > 0 && now-last > k.idle {
			k.m.Delete(key)
			k.n--
			return true
		}
		if oldest == nil || last < oldestLast {
			oldest, oldestLast = key, last
		}
		return true
	})
	if k.n >= k.maxKeys && oldest != nil {
		k.m.Delete(oldest)
		k.n--
	}
}
