package route

import (
	"time"

	"github.com/callguard/callguard"
)

// Defaults of a [Table]'s options.
const (
	DefaultMaxEntries    = 256
	DefaultMaxBytes      = 32 << 10
	DefaultProbeInterval = time.Second
	DefaultOutage        = 5 * time.Second
	DefaultMaxOutage     = 30 * time.Second
)

// MaxKeyLen is the longest route key or dependency name a [Table] learns.
const MaxKeyLen = 256

// An Option configures a [Table].
type Option interface{ apply(*options) }

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

type options struct {
	maxEntries, maxBytes int
	probe                time.Duration
	outage, maxOutage    time.Duration
	clock                callguard.Clock
}

// WithMaxEntries bounds the number of entries, routes and outages together.
// The default is [DefaultMaxEntries]; New panics if n < 2.
func WithMaxEntries(n int) Option { return optionFunc(func(o *options) { o.maxEntries = n }) }

// WithMaxBytes bounds the bytes the table's keys and names take, with a
// fixed overhead per entry. The default is [DefaultMaxBytes]; New panics
// if n < 1024.
func WithMaxBytes(n int) Option { return optionFunc(func(o *options) { o.maxBytes = n }) }

// WithProbeInterval sets how often a refused route lets one request
// through, to learn whether it is back. The default is
// [DefaultProbeInterval]; New panics if d ≤ 0.
func WithProbeInterval(d time.Duration) Option {
	return optionFunc(func(o *options) { o.probe = d })
}

// WithOutage sets how long an outage lasts when the service that reported
// it gave no duration. The default is [DefaultOutage]; New panics if d ≤ 0.
func WithOutage(d time.Duration) Option { return optionFunc(func(o *options) { o.outage = d }) }

// WithMaxOutage caps the duration a service may announce for an outage:
// what a wrong or hostile announcement can cost. The default is
// [DefaultMaxOutage]; New panics if d ≤ 0.
func WithMaxOutage(d time.Duration) Option {
	return optionFunc(func(o *options) { o.maxOutage = d })
}

// WithClock sets the clock the table reads; the default is
// [callguard.SystemClock]. Tests pass a callguardtest.Clock.
func WithClock(c callguard.Clock) Option { return optionFunc(func(o *options) { o.clock = c }) }

func newOptions(opts []Option) options {
	o := options{
		maxEntries: DefaultMaxEntries, maxBytes: DefaultMaxBytes, probe: DefaultProbeInterval,
		outage: DefaultOutage, maxOutage: DefaultMaxOutage, clock: callguard.SystemClock,
	}
	for _, opt := range opts {
		opt.apply(&o)
	}
	switch {
	case o.maxEntries < 2:
		panic("route: max entries must be >= 2, got " + itoa(o.maxEntries))
	case o.maxBytes < 1024:
		panic("route: max bytes must be >= 1024, got " + itoa(o.maxBytes))
	case o.probe <= 0:
		panic("route: probe interval must be > 0, got " + o.probe.String())
	case o.outage <= 0:
		panic("route: outage must be > 0, got " + o.outage.String())
	case o.maxOutage <= 0:
		panic("route: max outage must be > 0, got " + o.maxOutage.String())
	case o.clock == nil:
		panic("route: nil clock")
	}
	return o
}
