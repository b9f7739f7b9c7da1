package hedge

import "sync/atomic"

// unit is the number of micro-tokens in a hedge: balances are integers.
const unit = 1_000_000

// A budget is a token bucket of hedges: every call that may be hedged
// deposits perCall micro-tokens, every hedge withdraws unit. Lock-free.
type budget struct {
	balance  atomic.Int64 // micro-tokens in [0, capacity]
	perCall  int64
	capacity int64
}

func newBudget(ratio, burst float64) *budget {
	b := &budget{perCall: int64(ratio * unit), capacity: int64(burst * unit)}
	b.balance.Store(b.capacity)
	return b
}

// deposit adds one call's share, up to the capacity.
func (b *budget) deposit() {
	for {
		v := b.balance.Load()
		n := min(v+b.perCall, b.capacity)
		if n == v || b.balance.CompareAndSwap(v, n) {
			return
		}
	}
}

// take withdraws one hedge, reporting whether the balance held it.
func (b *budget) take() bool {
	for {
		v := b.balance.Load()
		if v < unit {
			return false
		}
		if b.balance.CompareAndSwap(v, v-unit) {
			return true
		}
	}
}
