package breaker

import (
	"math"
	"time"
)

// OpenUntil returns when the open state ends and the next probe may go
// through, in the time of the breaker's clock, or the zero Time when the
// circuit is not open or is forced open ([Breaker.ForceOpen]). It reads one
// atomic value and never changes the state.
func (cb *Breaker) OpenUntil() time.Time {
	u := cb.openUntil.Load()
	if u == 0 || u == math.MaxInt64 {
		return time.Time{}
	}
	return cb.epoch.Add(time.Duration(u))
}
