package callguard

import "time"

// A Clock tells the time and makes timers. Policies that wait or measure
// time take one through a WithClock option, so that a test can drive them
// with a fake clock instead of sleeping; the callguardtest package has one.
// The default everywhere is [SystemClock]. A Clock must be safe for
// concurrent use.
type Clock interface {
	Now() time.Time
	NewTimer(d time.Duration) Timer
}

// A Timer is the part of [time.Timer] the policies use.
type Timer interface {
	C() <-chan time.Time
	Stop() bool
}

// SystemClock is the [Clock] of package time.
var SystemClock Clock = systemClock{}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) NewTimer(d time.Duration) Timer { return systemTimer{time.NewTimer(d)} }

type systemTimer struct{ t *time.Timer }

func (t systemTimer) C() <-chan time.Time { return t.t.C }
func (t systemTimer) Stop() bool          { return t.t.Stop() }
