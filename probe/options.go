package probe

import (
	"time"

	"github.com/callguard/callguard"
)

// An Option configures a [Prober].
type Option interface{ apply(*options) }

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

type options struct {
	interval  time.Duration
	jitter    float64
	timeout   time.Duration
	clock     callguard.Clock
	onResult  []func(Result)
	requestID func() string
}

// Defaults.
const (
	DefaultInterval = 30 * time.Second
	DefaultJitter   = 0.1
)

// WithInterval sets the time from the end of one run to the start of the
// next, before jitter. The default is [DefaultInterval]; New panics if
// d <= 0.
func WithInterval(d time.Duration) Option {
	return optionFunc(func(o *options) { o.interval = d })
}

// WithJitter moves each wait by a random share of the interval, up to f
// either way: with 0.1, the default, a 30 s interval becomes 27 to 33 s.
// Zero means no jitter; New panics unless 0 <= f < 1.
func WithJitter(f float64) Option {
	return optionFunc(func(o *options) { o.jitter = f })
}

// WithTimeout bounds each run, all its steps together: the run's context
// ends after d. The default, and zero, is the interval. New panics if
// d < 0.
func WithTimeout(d time.Duration) Option {
	return optionFunc(func(o *options) { o.timeout = d })
}

// WithClock sets the clock that schedules runs, measures steps and ends a
// run at its timeout. The default is [callguard.SystemClock]; tests pass
// a fake one (callguardtest.NewClock). With the system clock, the run's
// context has a deadline, which the adapters send on; with another clock,
// the run's context ends when that clock's timer fires.
func WithClock(c callguard.Clock) Option {
	return optionFunc(func(o *options) { o.clock = c })
}

// OnResult adds a hook that receives the result of every run, on the
// prober's goroutine, after the run: it should be quick. It may be given
// more than once; the hooks run in order. nil is ignored.
func OnResult(f func(Result)) Option {
	return optionFunc(func(o *options) {
		if f != nil {
			o.onResult = append(o.onResult, f)
		}
	})
}

// WithRequestIDs sets the function that makes each run's request id. The
// default is [callguard.NewRequestID]. New panics if f is nil; a run whose
// id is not valid ([callguard.ValidRequestID]) gets a new one from
// callguard.NewRequestID.
func WithRequestIDs(f func() string) Option {
	return optionFunc(func(o *options) {
		if f == nil {
			panic("probe: WithRequestIDs(nil)")
		}
		o.requestID = f
	})
}
