package loadshed

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/internal/clock"
)

// Defaults of [NewThrottle].
const (
	// DefaultK is the multiplier of accepts (Google SRE book, "Handling
	// Overload": K = 2).
	DefaultK = 2.0
	// DefaultThrottleWindow is the history a Throttle keeps. The book keeps
	// two minutes; after a total outage the time to recover grows with the
	// window (about four windows, see TestThrottleRecovers), so 10s, which
	// still averages over hundreds of calls at modest rates.
	DefaultThrottleWindow = 10 * time.Second
	// throttleBuckets is the number of buckets of the window: history
	// expires in steps of a twentieth of it.
	throttleBuckets = 20
)

// A Throttle is client-side adaptive throttling, as in the Google SRE book
// ("Handling Overload"): it counts, over a sliding window, the requests
// made to a backend and the ones the backend accepted, and rejects new
// requests locally with probability
//
//	max(0, (requests − K·accepts) / (requests + 1))
//
// so that a backend rejecting most of its traffic receives about K times
// what it accepts, and one rejecting everything only a trickle of probes:
// the client spends nothing on calls that would be refused, and the
// backend sheds nothing it never receives. When the backend heals, the
// probes are accepted and the rejection probability falls back to zero.
//
// The Throttle keeps these counts for each [Priority] apart, as the book's
// clients do for each criticality, and takes a call's priority from its
// context ([FromContext]). A backend whose limiter refuses sheddable calls
// and serves critical ones throttles the sheddable calls alone: counted
// together, at twice a server's capacity with half the calls critical,
// the throttle refused critical and sheddable calls alike, and only 86–88%
// of the critical calls succeeded where the server would have served 97%.
//
// Use one Throttle per backend (per target service, or per address when a
// client balances over independent servers): the counts describe one
// backend. Requests count every call made through the Throttle, those it
// rejects locally included, as in the book; a call it lets through counts
// when it returns, so that calls still in flight do not count as refused
// (counted when they start, the second of two concurrent first calls was
// rejected with probability 1/2). An accept is a call that did not fail
// with an error matching [callguard.ErrOverloaded]: a shed, a 503 or 429,
// or gRPC ResourceExhausted count as refusals by the backend; successes,
// other errors and cancellations count as accepts. A call that an inner
// policy refused before it reached the backend (an error matching
// [callguard.ErrRejected]: an open breaker, a full bulkhead) counts as
// nothing: it says nothing of the backend's load, and counted as a refusal
// it would keep the throttle closed on a backend that the breaker keeps
// from being probed. A refusal that the backend passed on from its own
// calls ([callguard.ErrDownstream]: a dependency of the backend that is
// down, or that refused it) counts as an accept, as any other error the
// backend answered does: the backend is not overloaded, and the throttle
// next to the dependency acts on the dependency's load. Counted as
// refusals, a middle tier's fast answers while its dependency was down
// kept the calls throttled for 20–30 s after the dependency was back;
// counted as nothing, the throttle's own local rejections, which count as
// requests, held its rejection probability near 1 for as long.
//
// A Throttle is safe for concurrent use; its methods take a short mutex and
// allocate nothing. The zero value is not usable; create one with
// [NewThrottle].
type Throttle struct {
	k      float64
	bucket time.Duration
	clock  clock.Clock // nil for clock.Real: read only the monotonic clock
	epoch  time.Time
	rand   func() float64

	mu      sync.Mutex
	buckets [throttleBuckets][3]tally // by Priority.index
	cur     int64                     // number of the newest bucket since epoch
	totals  [3]tally                  // over the buckets, by Priority.index
}

// A tally counts the requests and accepts of one priority.
type tally struct{ requests, accepts int64 }

var _ callguard.Policy = (*Throttle)(nil)

// A ThrottleOption configures a [Throttle].
type ThrottleOption interface{ applyThrottle(*throttleOptions) }

type throttleOptionFunc func(*throttleOptions)

func (f throttleOptionFunc) applyThrottle(o *throttleOptions) { f(o) }

type throttleOptions struct {
	k      float64
	window time.Duration
	clock  clock.Clock
	rand   func() float64
}

// WithK sets the multiplier K: a Throttle lets through about K requests per
// request the backend accepts. The default is 2; lower values throttle
// sooner, higher ones let more requests reach a struggling backend.
// [NewThrottle] panics if k < 1.
func WithK(k float64) ThrottleOption {
	return throttleOptionFunc(func(o *throttleOptions) { o.k = k })
}

// WithWindow sets the history a Throttle keeps; it expires in
// twentieths of d. The default is 10s. [NewThrottle] panics if d < 20ns.
func WithWindow(d time.Duration) ThrottleOption {
	return throttleOptionFunc(func(o *throttleOptions) { o.window = d })
}

// withRand sets the source of uniform numbers in [0, 1). Tests use it.
func withRand(f func() float64) ThrottleOption {
	return throttleOptionFunc(func(o *throttleOptions) { o.rand = f })
}

// NewThrottle returns a Throttle with no history, configured by opts. It
// panics, with a message that starts with "loadshed: ", if an option is out
// of its documented range.
func NewThrottle(opts ...ThrottleOption) *Throttle {
	o := throttleOptions{k: DefaultK, window: DefaultThrottleWindow, clock: clock.Real, rand: rand.Float64}
	for _, opt := range opts {
		opt.applyThrottle(&o)
	}
	if !(o.k >= 1 && o.k < 1e9) {
		panic(fmt.Sprintf("loadshed: throttle K must be >= 1, got %v", o.k))
	}
	if o.window < throttleBuckets {
		panic(fmt.Sprintf("loadshed: throttle window must be >= 20ns, got %v", o.window))
	}
	t := &Throttle{k: o.k, bucket: o.window / throttleBuckets, epoch: o.clock.Now(), rand: o.rand}
	if o.clock != clock.Real {
		t.clock = o.clock
	}
	return t
}

// since returns the time since t.epoch.
func (t *Throttle) since() time.Duration {
	if t.clock == nil {
		return time.Since(t.epoch)
	}
	return t.clock.Now().Sub(t.epoch)
}

// Allow reports whether to send a request of priority p; false means
// reject it locally, and counts it as a request that the backend did not
// accept. A request that is sent counts when its answer comes, through
// [Throttle.Done]. An invalid priority counts as [Default].
func (t *Throttle) Allow(p Priority) bool {
	i := index(p)
	now := t.since()
	t.mu.Lock()
	b := t.advance(now)
	prob := t.totals[i].probability(t.k)
	if prob <= 0 {
		t.mu.Unlock()
		return true
	}
	allow := t.rand() >= prob
	if !allow {
		t.totals[i].requests++
		b[i].requests++
	}
	t.mu.Unlock()
	return allow
}

// Done records the answer to a request of priority p that [Throttle.Allow]
// let through: a request, and an accept if the backend accepted it. It
// counts in the bucket of the latest [Throttle.Allow], without reading the
// clock.
func (t *Throttle) Done(p Priority, accepted bool) {
	i := index(p)
	var a int64
	if accepted {
		a = 1
	}
	t.mu.Lock()
	b := &t.buckets[t.cur%throttleBuckets]
	t.totals[i].requests++
	t.totals[i].accepts += a
	b[i].requests++
	b[i].accepts += a
	t.mu.Unlock()
}

// Probability returns the probability with which [Throttle.Allow] now
// rejects a request of priority p.
func (t *Throttle) Probability(p Priority) float64 {
	now := t.since()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.advance(now)
	return max(0, t.totals[index(p)].probability(t.k))
}

// Counts returns the requests and accepts of priority p in the window.
func (t *Throttle) Counts(p Priority) (requests, accepts int64) {
	now := t.since()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.advance(now)
	c := t.totals[index(p)]
	return c.requests, c.accepts
}

// index returns p's index, [Default]'s for an invalid p.
func index(p Priority) int {
	if !valid(p) {
		return rank(Default)
	}
	return rank(p)
}

// Do runs fn unless the Throttle rejects it locally, in which case it
// returns [ErrThrottled] without calling fn, and returns what fn returns.
// fn's error says whether the backend accepted the call; see [Throttle].
func (t *Throttle) Do(ctx context.Context, fn func(context.Context) error) error {
	return t.run(ctx, fn, callguard.Invoke)
}

// Wrap returns a handler that runs next under the Throttle, as
// [Throttle.Do] runs fn.
func (t *Throttle) Wrap(next callguard.Handler) callguard.Handler {
	return func(ctx context.Context, call func(context.Context) error) error {
		return t.run(ctx, call, next)
	}
}

func (t *Throttle) run(ctx context.Context, call func(context.Context) error, next callguard.Handler) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p := FromContext(ctx)
	if !t.Allow(p) {
		return ErrThrottled
	}
	err := next(ctx, call)
	switch {
	case err == nil:
		t.Done(p, true)
	case errors.Is(err, callguard.ErrRejected): // never reached the backend
	default: // a refusal passed on from below was accepted: the backend answered it
		t.Done(p, errors.Is(err, callguard.ErrDownstream) || !errors.Is(err, callguard.ErrOverloaded))
	}
	return err
}

// probability is the book's rejection probability for the counts c, which
// may be negative.
func (c tally) probability(k float64) float64 {
	return (float64(c.requests) - k*float64(c.accepts)) / float64(c.requests+1)
}

// advance expires the buckets older than the window and returns the
// current one. It requires that t.mu is held.
func (t *Throttle) advance(since time.Duration) *[3]tally {
	n := int64(since / t.bucket)
	if n > t.cur {
		for i := max(t.cur+1, n-throttleBuckets+1); i <= n; i++ {
			b := &t.buckets[i%throttleBuckets]
			for j := range b {
				t.totals[j].requests -= b[j].requests
				t.totals[j].accepts -= b[j].accepts
			}
			*b = [3]tally{}
		}
		t.cur = n
	}
	return &t.buckets[t.cur%throttleBuckets]
}
