package breaker

import (
	"context"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/callguard/callguard"
	"github.com/sony/gobreaker/v2"
)

// A Breaker stops calls to a dependency that keeps failing, and lets a few
// probe calls through after a while to find out whether it has recovered.
// It is safe for concurrent use. The zero value is not usable; call [New].
//
// A call counts as a success when it returns nil, and as a failure when it
// returns an error or panics, except for errors that say nothing about the
// callee's health, which count as neither (they are excluded):
//   - the caller's cancellation: errors.Is(err, context.Canceled);
//   - permanent errors: [callguard.IsPermanent] (a bad request, a loop);
//   - refusals for load: errors.Is(err, [callguard.ErrOverloaded]), both a
//     local rejection (a full bulkhead inside the breaker: the callee never
//     saw the call) and the callee's own answer that it shed the call (an
//     [callguard.OverloadedError]: 503 or 429 with a pushback, gRPC
//     ResourceExhausted, or Unavailable with a pushback);
//   - failures the callee passed on from its own calls:
//     errors.Is(err, [callguard.ErrDownstream]) (a 504 or 503 that says
//     "downstream"): the breaker next to the dependency that failed counts
//     them, and one here would refuse the callee's other routes too.
//
// A server that sheds some of its calls is alive and doing its job: the
// right answer is to send it less, which a [loadshed.Throttle] outside
// retry does in proportion, not to stop sending. Counted as failures, the
// shed half of a 2x overload opened a breaker again and again, and cut the
// goodput of a healthy server to under 1%. The breaker is for a callee
// that is broken: refused or reset connections, timeouts
// (context.DeadlineExceeded), and errors that are not refusals (a 500, or
// a 502, 503 or 504 without a pushback) are failures. [WithIsFailure] can
// turn further errors into successes.
//
// [loadshed.Throttle]: https://pkg.go.dev/github.com/callguard/callguard/loadshed#Throttle
type Breaker struct {
	cb        *gobreaker.CircuitBreaker[struct{}]
	view      twoStepView      // cb, for Allow
	isFailure func(error) bool // nil: every error is a failure
	slowCall  time.Duration    // 0: no slow-call rule
	clock     callguard.Clock  // nil: the system clock, read through time.Since
	epoch     time.Time
	// openUntil is when the open state ends, in ns since epoch, or 0 when
	// the circuit is not open: while it lies ahead, a call is refused
	// without taking gobreaker's lock or reading the wall clock. While the
	// breaker is forced open it is math.MaxInt64.
	openUntil atomic.Int64
	mode      atomic.Int32 // modeNormal, modeForcedOpen or modeDisabled

	// ctl orders the switches (ForceOpen, Disable, Resume) with the state
	// changes gobreaker reports. Lock order: gobreaker's lock, then ctl;
	// never gobreaker's lock while ctl is held.
	ctl         sync.Mutex
	gbUntil     int64 // gobreaker's open state ends (ns since epoch), 0 when not open; guarded by ctl
	onChange    func(name string, from, to State)
	openTimeout time.Duration
}

// The modes of a Breaker: normal, or switched by hand.
const (
	modeNormal int32 = iota
	modeForcedOpen
	modeDisabled
)

// New returns a closed Breaker configured by opts. With no options it opens
// after 5 consecutive failures, or when at least half of at least 20 calls
// in a rolling 10 s window failed; it stays open 5 s, then lets 1 probe call
// through.
//
// New panics, with a message starting "breaker: ", when an option is out of
// range: negative consecutive failures, a failure ratio outside (0, 1] or
// zero min requests, a negative window, an interval that is not a multiple
// of the bucket or has more than 100 buckets, an open timeout <= 0, or
// fewer than 1 half-open probe.
func New(opts ...Option) *Breaker {
	o := defaultOptions()
	for _, opt := range opts {
		opt.apply(&o)
	}
	o.validate()

	rule := tripRule{
		consecutive: uint32(o.consecutive),
		ratioPPM:    max(1, uint64(math.Round(o.ratio*1e6))),
		minRequests: uint64(o.minRequests),
	}
	st := gobreaker.Settings{
		Name:         o.name,
		MaxRequests:  uint32(o.probes),
		Interval:     o.interval,
		BucketPeriod: o.bucket,
		Timeout:      o.openTimeout,
		ReadyToTrip:  rule.readyToTrip,
		IsExcluded:   func(err error) bool { return err == errExcluded },
	}
	b := &Breaker{isFailure: o.isFailure, slowCall: o.slowCall, onChange: o.onStateChange, openTimeout: o.openTimeout}
	if o.clock != nil && o.clock != callguard.SystemClock {
		// The open state's timing is the breaker's own (see WithClock):
		// gobreaker's open state ends at once, and the gate in run and
		// State holds calls back until the clock says so.
		b.clock = o.clock
		st.Timeout = time.Nanosecond
	}
	b.epoch = b.wallOrClock()
	st.OnStateChange = b.stateChanged
	b.cb = gobreaker.NewCircuitBreaker[struct{}](st)
	b.view.cb = b.cb
	return b
}

// wallOrClock returns the breaker's clock's time.
func (cb *Breaker) wallOrClock() time.Time {
	if cb.clock == nil {
		return time.Now()
	}
	return cb.clock.Now()
}

// nanos returns the time in ns since the epoch.
func (cb *Breaker) nanos() int64 {
	if cb.clock == nil {
		return int64(time.Since(cb.epoch))
	}
	return int64(cb.clock.Now().Sub(cb.epoch))
}

// stateChanged is gobreaker's OnStateChange. gobreaker calls it under its
// lock, as it changes state, so openUntil follows the state in order. The
// fast path only ever refuses; since openUntil is set a moment after
// gobreaker sets its own expiry, it may refuse for a few microseconds after
// gobreaker would have let a probe through, never the reverse.
func (cb *Breaker) stateChanged(name string, from, to gobreaker.State) {
	cb.ctl.Lock()
	defer cb.ctl.Unlock()
	switch to {
	case gobreaker.StateOpen:
		cb.gbUntil = cb.nanos() + int64(cb.openTimeout)
	case gobreaker.StateHalfOpen:
		if cb.clock != nil {
			// Keep the gate: with a clock, gobreaker's own open state
			// ends at once, and a call that passed the gate just before
			// the circuit opened must not become a probe early.
			break
		}
		cb.gbUntil = 0
	default:
		cb.gbUntil = 0
	}
	if cb.mode.Load() != modeNormal {
		return // the switch holds openUntil, and the events wait for Resume
	}
	cb.openUntil.Store(cb.gbUntil)
	if cb.onChange != nil {
		cb.onChange(name, stateOf(from), stateOf(to))
	}
}

// Do calls fn if the circuit lets the call through and records the outcome.
// It returns what fn returned, unchanged; [ErrOpen] (not running fn) while
// the circuit is open or every half-open probe slot is taken; or ctx.Err()
// (not running fn, not counting the call) if ctx is already done.
//
// If fn panics, the call counts as a failure and Do panics again with the
// same value.
func (cb *Breaker) Do(ctx context.Context, fn func(context.Context) error) error {
	return cb.run(ctx, callguard.Invoke, fn)
}

// Wrap returns a handler that runs next under the breaker, as [Breaker.Do]
// runs fn. It implements [callguard.Policy].
func (cb *Breaker) Wrap(next callguard.Handler) callguard.Handler {
	return func(ctx context.Context, call func(context.Context) error) error {
		return cb.run(ctx, next, call)
	}
}

// run is the hot path. gobreaker's Execute takes the request as an argument
// and does not keep it, so the closure below stays on the stack: the success
// path allocates nothing (the two-step Allow would allocate its done
// callback on every call). The closure classifies the error itself, outside
// gobreaker's lock, and hands gobreaker only nil (success), errExcluded, or
// the error (failure); a panic reaches gobreaker as an error of its own
// making, which is therefore a failure whatever the classifier says.
func (cb *Breaker) run(ctx context.Context, next callguard.Handler, call func(context.Context) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if u := cb.openUntil.Load(); u != 0 && cb.nanos() < u {
		return ErrOpen // the fast path of a refusal: no lock, no wall clock
	}
	if cb.mode.Load() == modeDisabled {
		return next(ctx, call)
	}
	var (
		ran bool
		err error
	)
	_, berr := cb.cb.Execute(func() (struct{}, error) {
		if cb.clock != nil && cb.nanos() < cb.openUntil.Load() {
			return struct{}{}, errExcluded // opened under our feet: see stateChanged
		}
		ran = true
		if cb.slowCall <= 0 {
			err = next(ctx, call)
			return struct{}{}, cb.verdict(err)
		}
		start := cb.nanos()
		err = next(ctx, call)
		v := cb.verdict(err)
		if v != errExcluded && time.Duration(cb.nanos()-start) > cb.slowCall {
			v = errSlowCall
		}
		return struct{}{}, v
	})
	if !ran {
		if berr == errExcluded {
			return ErrOpen
		}
		return rejection(berr)
	}
	return err
}

// verdict maps a call's error to what gobreaker records: nil for a success,
// errExcluded for neither, or err itself for a failure.
func (cb *Breaker) verdict(err error) error {
	switch {
	case err == nil:
		return nil
	case excluded(err):
		return errExcluded
	case cb.isFailure != nil && !cb.isFailure(err):
		return nil
	}
	return err
}

// Name returns the name set by [WithName].
func (cb *Breaker) Name() string { return cb.cb.Name() }

// State returns the current state. Reading it may move an open circuit whose
// timeout has passed to half-open, which calls the [OnStateChange] hook.
// While a switch is on, it returns [ForcedOpen] or [Disabled].
func (cb *Breaker) State() State {
	switch cb.mode.Load() {
	case modeForcedOpen:
		return ForcedOpen
	case modeDisabled:
		return Disabled
	}
	if cb.gated() {
		return Open
	}
	return stateOf(cb.cb.State())
}

// gated reports whether the breaker's own clock holds the circuit open
// (only with [WithClock]): gobreaker must not be asked, since it would move
// to half-open at once.
func (cb *Breaker) gated() bool {
	return cb.clock != nil && cb.nanos() < cb.openUntil.Load()
}

// Counts returns the counts of the current state: in the closed state those
// of the current window, in the half-open state those of the probes; they
// are zero in the open state. Like [Breaker.State], it brings the window
// and the state up to date first.
func (cb *Breaker) Counts() Counts {
	if cb.gated() {
		return Counts{}
	}
	cb.cb.State() // advance the rolling window
	c := cb.cb.Counts()
	return Counts{
		Requests:             c.Requests,
		TotalSuccesses:       c.TotalSuccesses,
		TotalFailures:        c.TotalFailures,
		TotalExclusions:      c.TotalExclusions,
		ConsecutiveSuccesses: c.ConsecutiveSuccesses,
		ConsecutiveFailures:  c.ConsecutiveFailures,
	}
}

// tripRule decides when the closed circuit opens. gobreaker calls
// readyToTrip, under its lock, after each failure in the closed state.
type tripRule struct {
	consecutive uint32 // 0: rule disabled
	ratioPPM    uint64 // failure ratio in parts per million, >= 1
	minRequests uint64
}

func (r tripRule) readyToTrip(c gobreaker.Counts) bool {
	if r.consecutive > 0 && c.ConsecutiveFailures >= r.consecutive {
		return true
	}
	done := uint64(c.TotalSuccesses) + uint64(c.TotalFailures)
	return done >= r.minRequests && uint64(c.TotalFailures)*1e6 >= r.ratioPPM*done
}

// A State is the state of a [Breaker]'s circuit. The zero value is Closed.
type State int

// The states of a circuit.
const (
	// Closed lets every call through and counts failures.
	Closed State = iota
	// HalfOpen lets a limited number of probe calls through.
	HalfOpen
	// Open rejects every call with [ErrOpen].
	Open
	// ForcedOpen rejects every call with [ErrOpen] until [Breaker.Resume]:
	// the switch [Breaker.ForceOpen] is on.
	ForcedOpen
	// Disabled lets every call through without counting it, until
	// [Breaker.Resume]: the switch [Breaker.Disable] is on.
	Disabled
)

// String returns "closed", "half-open", "open", "forced-open" or "disabled".
func (s State) String() string {
	switch s {
	case Closed:
		return "closed"
	case HalfOpen:
		return "half-open"
	case Open:
		return "open"
	case ForcedOpen:
		return "forced-open"
	case Disabled:
		return "disabled"
	}
	return "breaker.State(" + strconv.Itoa(int(s)) + ")"
}

func stateOf(s gobreaker.State) State {
	switch s {
	case gobreaker.StateHalfOpen:
		return HalfOpen
	case gobreaker.StateOpen:
		return Open
	}
	return Closed
}

// Counts are a [Breaker]'s counts of calls since its last change of state,
// within the window while it is closed. Calls still running are counted in
// Requests only; excluded calls in Requests and TotalExclusions.
type Counts struct {
	Requests             uint32 // calls let through
	TotalSuccesses       uint32
	TotalFailures        uint32
	TotalExclusions      uint32 // calls counted as neither success nor failure
	ConsecutiveSuccesses uint32
	ConsecutiveFailures  uint32
}
