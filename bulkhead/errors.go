package bulkhead

import "github.com/callguard/callguard"

// ErrFull is returned by [Bulkhead.Do] when no slot was free, or none freed
// up within the maximum wait. It matches [callguard.ErrRejected] and
// [callguard.ErrOverloaded]: the call never ran.
var ErrFull = callguard.NewRejection("bulkhead: full")
