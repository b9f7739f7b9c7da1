package retry

import (
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/callguard/callguard/internal/clock"
)

// unit is the number of micro-tokens in a token: balances are integers.
const unit = 1_000_000

// A Budget bounds the retries of the Retry policies that share it, so that
// a sustained outage cannot multiply the load on a failing service. It is a
// token bucket, as Finagle's RetryBudget and gRPC's retry throttling (gRFC
// A6): every call made through a Retry with this budget deposits ratio
// tokens, every retry withdraws one, and the bucket also refills at a
// minimum rate per second. The balance never exceeds the capacity and the
// bucket starts full.
//
// So over a period T with N calls, retries number at most
// ratio·N + minPerSecond·T + capacity: with the defaults, 10% of calls plus
// 10 per second, after a burst of at most 100.
//
// A Budget is safe for concurrent use and meant to be shared: one per
// process, or one per downstream service. Depositing is lock-free and
// allocation-free; a retry takes a mutex and reads the clock. The zero value
// allows no retries; use [NewBudget].
type Budget struct {
	balance    atomic.Int64 // micro-tokens in [0, capacity]
	perRequest int64        // micro-tokens deposited per call
	capacity   int64        // micro-tokens
	perNano    float64      // micro-tokens refilled per nanosecond
	clock      clock.Clock

	mu   sync.Mutex
	last time.Time // time of the last refill; guarded by mu
	frac float64   // refill below one micro-token, carried over; guarded by mu
}

// NewBudget returns a full Budget configured by opts. Without options it
// earns 0.1 retry per call, refills 10 retries per second and holds at most
// 100 tokens.
//
// NewBudget panics, with a message that starts with "retry: ", if the ratio
// is outside [0, 1000], the minimum rate outside [0, 1e9], or the max tokens
// outside [1, 1e12] (and not 0, the default).
func NewBudget(opts ...BudgetOption) *Budget {
	o := budgetOptions{ratio: DefaultRatio, minPerSecond: DefaultMinPerSecond, clock: clock.Real}
	for _, opt := range opts {
		opt.applyBudget(&o)
	}
	switch {
	case !(o.ratio >= 0 && o.ratio <= 1000): // also catches NaN
		panic("retry: budget ratio must be in [0, 1000], got " + ftoa(o.ratio))
	case !(o.minPerSecond >= 0 && o.minPerSecond <= 1e9):
		panic("retry: budget min per second must be in [0, 1e9], got " + ftoa(o.minPerSecond))
	case o.maxTokens != 0 && !(o.maxTokens >= 1 && o.maxTokens <= 1e12):
		panic("retry: budget max tokens must be in [1, 1e12], got " + ftoa(o.maxTokens))
	}
	if o.maxTokens == 0 {
		o.maxTokens = max(10, 10*o.minPerSecond)
	}
	b := &Budget{
		perRequest: int64(o.ratio * unit),
		capacity:   int64(o.maxTokens * unit),
		perNano:    o.minPerSecond * unit / float64(time.Second),
		clock:      o.clock,
	}
	b.balance.Store(b.capacity)
	if b.perNano > 0 {
		b.last = b.clock.Now()
	}
	return b
}

// Available returns the number of tokens in the budget: how many retries it
// would allow now.
func (b *Budget) Available() float64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return float64(b.add(b.refill(), 0)) / unit
}

// Capacity returns the most tokens the budget holds.
func (b *Budget) Capacity() float64 { return float64(b.capacity) / unit }

// deposit adds a call's share to the balance, up to the capacity. A full
// bucket is only read, not written, so that callers on many cores do not
// contend on it.
func (b *Budget) deposit() {
	if b.perRequest == 0 {
		return
	}
	for {
		old := b.balance.Load()
		if old >= b.capacity {
			return
		}
		if b.balance.CompareAndSwap(old, min(old+b.perRequest, b.capacity)) {
			return
		}
	}
}

// withdraw takes one token for a retry and reports whether there was one.
func (b *Budget) withdraw() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.add(b.refill(), unit) >= 0
}

// add adds refill to the balance, capped, then takes take micro-tokens if
// the balance holds them. It returns the new balance, or a negative number
// if take was more than the balance (which then only gets the refill). add requires
// that b.mu is held, so that refills are not lost, yet it races deposits,
// hence the CAS.
func (b *Budget) add(refill, take int64) int64 {
	for {
		old := b.balance.Load()
		bal := min(old+refill, b.capacity)
		ret := bal - take
		if ret >= 0 {
			bal = ret
		}
		if b.balance.CompareAndSwap(old, bal) {
			return ret
		}
	}
}

// refill returns the micro-tokens that the minimum rate earned since the
// last refill. It requires that b.mu is held.
func (b *Budget) refill() int64 {
	if b.perNano == 0 {
		return 0
	}
	now := b.clock.Now()
	elapsed := now.Sub(b.last)
	if elapsed <= 0 {
		return 0
	}
	b.last = now
	f := b.frac + float64(elapsed)*b.perNano
	if f >= float64(b.capacity) {
		b.frac = 0
		return b.capacity
	}
	whole := math.Floor(f)
	b.frac = f - whole
	return int64(whole)
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
