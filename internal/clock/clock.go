// Package clock abstracts time for the policies, so that tests can drive
// backoff waits, bulkhead waits and budgets with a fake clock instead of
// sleeping.
package clock

import "github.com/callguard/callguard"

// A Clock tells the time and makes timers: [callguard.Clock].
type Clock = callguard.Clock

// A Timer is the part of *time.Timer the policies use: [callguard.Timer].
type Timer = callguard.Timer

// Real is the system clock.
var Real = callguard.SystemClock
