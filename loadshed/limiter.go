package loadshed

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/internal/clock"
)

// A Limiter is an adaptive concurrency limit for a server: it admits a
// request while the calls in flight are below a limit that follows the
// measured latency, and refuses the rest at once with [ErrShed], lowest
// priority first. It is safe for concurrent use. The zero value is not
// usable; create one with [New].
//
// A Limiter is a [callguard.Policy]. Adapters that cannot run the work
// inside [Limiter.Do] use [Limiter.Acquire] and [Token.Release].
type Limiter struct {
	// Set by New, read-only after.
	clock              clock.Clock
	realClock          bool // clock is clock.Real: read only the monotonic clock
	epoch              time.Time
	timed              bool // Acquire and Release read the clock
	shares             [3]float64
	minLimit, maxLimit float64
	window             time.Duration
	maxWait            time.Duration
	maxQueue           int
	queueMode          queueMode
	minService         time.Duration
	learned            bool
	pushback           time.Duration
	onLimit            func(old, new int)
	onShed             func(context.Context, Priority)
	retryShare         float64
	_                  [64]byte // keep the hot words below off the config's cache lines

	allow    [3]atomic.Int64 // in-flight bound per Priority.index; follows limit
	limit    atomic.Int64
	baseline atomic.Int64 // long-term average latency, ns
	next     atomic.Int64 // ns since epoch at which the window may close
	_        [64]byte

	inflight  atomic.Int64
	waiting   atomic.Int64 // queued requests; changes only with mu held
	win       winStats     // the current sampling window's counters (sample.go)
	shed      [3]atomic.Uint64
	shedRetry atomic.Uint64   // repeated requests refused (attempt.go)
	seq       atomic.Int64    // sampling windows closed, plus 1
	shedSeq   [3]atomic.Int64 // 1 + seq of the last refusal, by Priority.index; 0: never
	expired   atomic.Uint64

	ctl  sync.Mutex // guards est and ctrl
	est  float64    // the limit before rounding
	ctrl controller // nil in fixed mode without learning

	mu      sync.Mutex   // guards queue and emptyAt
	queue   [3][]*waiter // by Priority.index
	emptyAt int64        // ns since epoch when the queue was last seen empty
}

var _ callguard.Policy = (*Limiter)(nil)

// New returns a Limiter configured by opts. Without options it is adaptive
// ([Gradient]), starts at a limit of 20 within [3, 1000], refuses at once
// when the limit is reached (no queue), and gives sheddable and default
// requests half and three quarters of the limit.
//
// New panics, with a message that starts with "loadshed: ", if an option is
// out of its documented range.
func New(opts ...Option) *Limiter {
	o := defaultOptions()
	for _, opt := range opts {
		opt.apply(&o)
	}
	validate(&o)
	l := &Limiter{
		clock: o.clock, realClock: o.clock == clock.Real, epoch: o.clock.Now(), shares: o.shares,
		minLimit: float64(o.minLimit), maxLimit: float64(o.maxLimit),
		window: o.window, maxWait: o.maxWait, maxQueue: o.maxQueue, queueMode: o.queueMode,
		minService: o.minService, learned: o.learned, pushback: o.pushback,
		onLimit: o.onLimit, onShed: o.onShed, est: float64(o.initial), retryShare: o.retryShare,
	}
	switch {
	case !o.fixed:
		// The time the limiter starts seeds the probes' jitter, so that
		// copies of a service probe apart, and a fake clock repeats.
		l.ctrl = o.algo.controller(uint64(l.epoch.UnixNano()))
	case o.learned:
		l.ctrl = &fixed{ewma{n: 100}}
	}
	l.timed = l.ctrl != nil
	l.seq.Store(1)
	l.next.Store(int64(l.window))
	l.limit.Store(-1)
	l.setLimit(o.initial)
	return l
}

func validate(o *options) {
	check := func(bad bool, format string, args ...any) {
		if bad {
			panic(fmt.Sprintf("loadshed: "+format, args...))
		}
	}
	check(o.minLimit < 1, "min limit must be >= 1, got %d", o.minLimit)
	check(o.maxLimit < o.minLimit, "max limit must be >= min limit %d, got %d", o.minLimit, o.maxLimit)
	check(o.initial < o.minLimit || o.initial > o.maxLimit,
		"initial limit must be in [%d, %d], got %d", o.minLimit, o.maxLimit, o.initial)
	check(o.algo == nil, "nil algorithm")
	check(o.window <= 0, "sample window must be > 0, got %v", o.window)
	for i, s := range o.shares {
		check(!(s > 0 && s <= 1), "share of %v must be in (0, 1], got %v", Priority(i-1), s)
	}
	check(o.shares[0] > o.shares[1] || o.shares[1] > o.shares[2],
		"shares must not fall with the priority, got %v", o.shares)
	check(o.maxWait < 0, "max wait must be >= 0, got %v", o.maxWait)
	check(o.maxQueue < 0, "max queue must be >= 0, got %d", o.maxQueue)
	check(o.minService < 0, "min service time must be >= 0, got %v", o.minService)
	check(o.pushback < 0, "pushback must be >= 0, got %v", o.pushback)
}

// Acquire admits one request, whose priority comes from ctx
// ([FromContext]), or says why not; a retry or a hedge
// ([callguard.InboundAttempt] above 1) ranks below the first attempts of
// its priority ([WithRetryShare]). It returns at once unless
// [WithMaxWait] is set, in which case it may wait that long for a slot.
// The errors are ctx.Err() when ctx is done, [ErrDeadline] when ctx's
// deadline is too close (see [WithMinServiceTime]), and an error matching
// [ErrShed] when no slot is free for the request's priority, or when
// requests of a higher priority are being refused (see the package
// documentation).
//
// A nil error must be paired with exactly one [Token.Release] once the
// work is done; a slot that is never released is lost for good. It
// allocates nothing unless it waits.
func (l *Limiter) Acquire(ctx context.Context) (Token, error) {
	if err := ctx.Err(); err != nil {
		return Token{}, err
	}
	p := FromContext(ctx)
	if (l.minService > 0 || l.learned) && l.tooLate(ctx) {
		l.expired.Add(1)
		return Token{}, ErrDeadline
	}
	if l.repeated(ctx) {
		return l.acquireRepeated(ctx, p) // see WithRetryShare
	}
	if p < Critical && l.outranked(p) {
		return Token{}, l.refuse(ctx, p, ReasonPriority)
	}
	if l.waiting.Load() == 0 {
		if n, ok := l.take(p); ok {
			return l.token(p, n), nil
		}
	}
	if l.maxWait > 0 {
		return l.wait(ctx, p)
	}
	return Token{}, l.refuse(ctx, p, ReasonLimit)
}

// Do runs fn if [Limiter.Acquire] admits it, and returns what fn returns,
// or Acquire's error without calling fn. fn's error says how the slot is
// released ([OutcomeOf]); a panic releases it as [Ignored] and goes on up.
func (l *Limiter) Do(ctx context.Context, fn func(context.Context) error) error {
	return l.run(ctx, fn, callguard.Invoke)
}

// Wrap returns a handler that runs next under the limiter, as
// [Limiter.Do] runs fn.
func (l *Limiter) Wrap(next callguard.Handler) callguard.Handler {
	return func(ctx context.Context, call func(context.Context) error) error {
		return l.run(ctx, call, next)
	}
}

func (l *Limiter) run(ctx context.Context, call func(context.Context) error, next callguard.Handler) error {
	tok, err := l.Acquire(ctx)
	if err != nil {
		return err
	}
	o := Ignored
	defer func() { tok.Release(o) }()
	err = next(ctx, call)
	o = OutcomeOf(err)
	return err
}

// Limit returns the current concurrency limit.
func (l *Limiter) Limit() int { return int(l.limit.Load()) }

// InFlight returns the number of requests admitted and not yet released.
func (l *Limiter) InFlight() int { return int(l.inflight.Load()) }

// Queued returns the number of requests waiting for a slot.
func (l *Limiter) Queued() int { return int(l.waiting.Load()) }

// Shed returns how many requests of priority p the limiter has refused for
// lack of a slot, the queue's refusals included.
func (l *Limiter) Shed(p Priority) uint64 {
	if !valid(p) {
		return 0
	}
	return l.shed[rank(p)].Load()
}

// DeadlineRejects returns how many requests the limiter refused with
// [ErrDeadline].
func (l *Limiter) DeadlineRejects() uint64 { return l.expired.Load() }

// An Outcome says what a released request tells the limiter.
type Outcome uint8

const (
	// Success: the request completed; its latency is a sample.
	Success Outcome = iota
	// Dropped: the request timed out; the limit backs off.
	Dropped
	// Ignored: the request says nothing about the service; no sample.
	Ignored
	// Canceled: the caller went away before the request finished. If the
	// request held its slot for more than twice the limiter's long-term
	// latency (before the first window, for more than a window), it is
	// [Dropped]: its caller gave up waiting, so the limit lets too much
	// queue; otherwise it is [Ignored]. Counting such
	// cancellations as nothing let a limit that had grown too high stay
	// there, every admitted request waiting until its caller left (a
	// 4x overload on loopback collapsed to 0 goodput that way).
	Canceled
)

// OutcomeOf classifies the error of a finished request: nil is [Success];
// an error matching [context.Canceled] is [Canceled]; one matching
// [callguard.ErrOverloaded] is [Ignored], even if it wraps a timeout; one
// matching [context.DeadlineExceeded] is [Dropped]; any other error is
// [Success], since the service did answer, in its time.
//
// An overloaded error that reaches the limiter comes from below it: a
// dependency's refusal that the handler passed on, or an open breaker or
// full bulkhead on the handler's own outgoing call. That is the
// dependency's load, not this server's, and says nothing about how many
// calls this server can run: counted as a drop, a dependency's outage
// shrank an idle server's limit from 16 to 3, so that it would have shed
// requests that never needed the dependency.
func OutcomeOf(err error) Outcome {
	switch {
	case err == nil:
		return Success
	case errors.Is(err, context.Canceled):
		return Canceled
	case errors.Is(err, callguard.ErrOverloaded):
		return Ignored // before the deadline: a dependency's timeout, relayed
	case errors.Is(err, context.DeadlineExceeded):
		return Dropped
	}
	return Success
}

// A Token is a slot held by an admitted request. It is a small value: copy
// it freely, but release it exactly once. The zero Token's Release does
// nothing.
type Token struct {
	l        *Limiter
	start    int64 // ns since l.epoch, when l.timed
	inflight int32 // calls in flight at admission, this one included
	p        Priority
}

// Priority returns the priority the request was admitted with.
func (t Token) Priority() Priority { return t.p }

// Release returns the slot and reports the request's outcome: with
// [Success] and [Dropped] (and [Canceled] after a long wait) the request's
// latency is a sample for the limit.
// It panics with "loadshed: released more than acquired" when the limiter
// holds no slot.
func (t Token) Release(o Outcome) {
	l := t.l
	if l == nil {
		return
	}
	if l.inflight.Add(-1) < 0 {
		l.inflight.Add(1)
		panic("loadshed: released more than acquired")
	}
	if l.timed && o != Ignored {
		l.sample(t.start, int64(t.inflight), o)
	}
	if l.waiting.Load() != 0 {
		l.handOff()
	}
}

func (l *Limiter) token(p Priority, n int64) Token {
	t := Token{l: l, inflight: int32(min(n, 1<<31-1)), p: p}
	if l.timed {
		t.start = l.nanotime()
	}
	return t
}

// nanotime returns the time since l.epoch. With the real clock it reads
// only the monotonic clock, as time.Since does, which costs half of
// time.Now.
func (l *Limiter) nanotime() int64 {
	if l.realClock {
		return int64(time.Since(l.epoch))
	}
	return int64(l.clock.Now().Sub(l.epoch))
}

// take takes a slot if one is free for priority p, ignoring waiters, and
// returns the calls then in flight.
func (l *Limiter) take(p Priority) (int64, bool) { return l.takeBelow(l.allow[rank(p)].Load()) }

// takeBelow takes a slot if fewer than bound calls are in flight, and
// returns the calls then in flight.
func (l *Limiter) takeBelow(bound int64) (int64, bool) {
	for {
		n := l.inflight.Load()
		if n >= bound {
			return n, false
		}
		if l.inflight.CompareAndSwap(n, n+1) {
			return n + 1, true
		}
	}
}

// outranked reports whether a request of a priority above p was refused
// in this sampling window or the previous one: then requests of priority
// p are refused too, so that they take no capacity a more important
// request was denied. Without sampling windows (a fixed limit) it is false.
func (l *Limiter) outranked(p Priority) bool { return l.outrankedFrom(rank(p) + 1) }

// refuse counts a refusal and returns its error. The refusal of a
// repeated request ([ReasonRetry]) leaves shedSeq alone: it does not make
// lower priorities refused (see [WithRetryShare]).
func (l *Limiter) refuse(ctx context.Context, p Priority, r Reason) error {
	i := rank(p)
	l.shed[i].Add(1)
	if r == ReasonRetry {
		l.shedRetry.Add(1)
	} else if s := l.seq.Load() + 1; l.shedSeq[i].Load() != s {
		l.shedSeq[i].Store(s)
	}
	if l.onShed != nil {
		l.onShed(ctx, p)
	}
	if l.pushback == 0 {
		return ErrShed
	}
	return &ShedError{
		Priority: p, Reason: r, Delay: l.pushback,
		Limit: int(l.allow[rank(p)].Load()), InFlight: int(l.inflight.Load()),
	}
}

// tooLate reports whether ctx has less time left than the service needs.
func (l *Limiter) tooLate(ctx context.Context) bool {
	deadline, ok := ctx.Deadline()
	if !ok {
		return false
	}
	need := l.minService
	if l.learned {
		need = max(need, time.Duration(l.baseline.Load()))
	}
	return need > 0 && deadline.Sub(l.clock.Now()) < need
}
