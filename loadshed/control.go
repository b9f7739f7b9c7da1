package loadshed

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// An Algorithm decides how an adaptive [Limiter]'s limit follows the
// latency and drops it measures: [Gradient] (the default), [Gradient2] or
// [AIMD]. Set it with [WithAlgorithm].
type Algorithm interface {
	// controller returns a new controller; seed seeds its random
	// numbers, if it draws any.
	controller(seed uint64) controller
}

// Gradient2 is an algorithm after Netflix concurrency-limits'
// Gradient2Limit, the default before [Gradient]. Once per sampling window it compares the window's latency
// (short RTT: its 25th percentile, see [Gradient]) with a long-term exponential average of it (long RTT):
//
//	gradient = clamp(Tolerance·long/short, 0.5, 1)   // 1: no queueing
//	target   = gradient·limit + QueueSize            // allow a small queue
//	limit    = (1-Smoothing)·limit + Smoothing·target
//
// While latency is flat the limit grows by Smoothing·QueueSize per window,
// until the latency rises by more than Tolerance; it then falls, by at
// most a tenth per window. A window in which the service held less than
// half the limit, and nothing was refused, does not grow it
// ("app-limited"). When the long RTT is more than twice the short one,
// after an overload, it is cut by 10% per window, so the limit recovers
// without waiting for the average.
//
// Two changes to Netflix's algorithm: a window with a [Dropped] release
// multiplies the limit by Backoff instead, as AIMD does, so timeouts
// shrink it whatever the latency; and while the limiter is refusing
// requests, the long RTT rises ten times slower, because the queueing the
// limit itself allows is not a new baseline. Without that damping the
// limit creeps up under sustained overload, the long average chasing the
// latency it lets grow, until requests time out: in the simulation of
// TestPriorityOverload the p99 latency reached 9.2 service times after two
// minutes (limit 107), against 3.1 with it (limit 32).
//
// Zero fields take the defaults, which are Netflix's; LongWindow counts
// windows where Netflix counts samples.
type Gradient2 struct {
	Smoothing  float64 // weight of a new estimate, in (0, 1]; default 0.2
	Tolerance  float64 // latency rise tolerated before shrinking, >= 1; default 1.5
	QueueSize  float64 // growth allowance per window, >= 0; default 4
	LongWindow int     // windows in the long-term average, >= 1; default 600
	Backoff    float64 // factor after a window with drops, in [0.5, 1); default 0.9
}

// AIMD is the loss-based algorithm of Netflix concurrency-limits' AIMDLimit:
// once per window the limit grows by one while the service holds at least
// half of it or the limiter refuses requests, and is multiplied by Backoff after a window with a [Dropped]
// release or whose latency (its 25th percentile, see [Gradient]) exceeds Timeout.
//
// Zero fields take the defaults, which are Netflix's.
type AIMD struct {
	Backoff float64       // in [0.5, 1); default 0.9
	Timeout time.Duration // latency counted as a drop, > 0; default 5s
}

// window is what one sampling window measured.
type window struct {
	at          int64   // ns since the limiter's epoch, when it closed
	samples     int64   // released requests sampled
	rtt         float64 // their latency's windowQuantile, ns, > 0: what the limit follows
	mean        float64 // their average latency, ns, > 0: what the baselines follow
	maxInflight int64   // most calls in flight at any admission
	drops       int64   // Dropped releases
	shed        bool    // the limiter refused requests in the window
}

// A controller turns windows into limits. Its methods are called with the
// limiter's ctl lock held.
type controller interface {
	// update returns the new estimated limit, before clamping.
	update(est float64, w window) float64
	// baseline returns the long-term average latency in ns (of the
	// windows' means, not their quantiles), 0 before the first window.
	baseline() float64
}

// ewma is Netflix's ExpAvgMeasurement: a plain average over the first 10
// values, then an exponential average with factor 2/(n+1).
type ewma struct {
	n, count int
	value    float64
}

func (e *ewma) add(v float64) float64 { return e.addDamped(v, 1) }

// addDamped adds v with the weight of an exponential average divided by
// damp.
func (e *ewma) addDamped(v, damp float64) float64 {
	if e.count < 10 {
		e.count++
		e.value += (v - e.value) / float64(e.count)
	} else {
		f := 2 / float64(e.n+1) / damp
		e.value = e.value*(1-f) + v*f
	}
	return e.value
}

func (e *ewma) baseline() float64 { return e.value }

type gradient2 struct {
	Gradient2
	long ewma // of the windows' quantiles: the long RTT
	avg  ewma // of the windows' means: the baseline
}

func (g Gradient2) controller(uint64) controller {
	g.Smoothing = orDefault(g.Smoothing, 0.2)
	g.Tolerance = orDefault(g.Tolerance, 1.5)
	g.QueueSize = orDefault(g.QueueSize, 4)
	g.LongWindow = int(orDefault(float64(g.LongWindow), 600))
	g.Backoff = orDefault(g.Backoff, 0.9)
	switch {
	case !(g.Smoothing > 0 && g.Smoothing <= 1):
		panic(fmt.Sprintf("loadshed: Gradient2 smoothing must be in (0, 1], got %v", g.Smoothing))
	case !(g.Tolerance >= 1 && g.Tolerance < 1e6):
		panic(fmt.Sprintf("loadshed: Gradient2 tolerance must be >= 1, got %v", g.Tolerance))
	case !(g.QueueSize >= 0 && g.QueueSize < 1e6):
		panic(fmt.Sprintf("loadshed: Gradient2 queue size must be >= 0, got %v", g.QueueSize))
	case g.LongWindow < 1:
		panic(fmt.Sprintf("loadshed: Gradient2 long window must be >= 1, got %d", g.LongWindow))
	case !(g.Backoff >= 0.5 && g.Backoff < 1):
		panic(fmt.Sprintf("loadshed: Gradient2 backoff must be in [0.5, 1), got %v", g.Backoff))
	}
	return &gradient2{Gradient2: g, long: ewma{n: g.LongWindow}, avg: ewma{n: 100}}
}

func (g *gradient2) update(est float64, w window) float64 {
	damp := 1.0
	if w.shed && w.rtt > g.long.value {
		damp = 10 // the queueing our own limit allows is no new baseline
	}
	g.avg.add(w.mean)
	long := g.long.addDamped(w.rtt, damp)
	if long/w.rtt > 2 {
		g.long.value *= 0.9 // recovering from an overload: catch up with the short RTT
	}
	if w.drops > 0 {
		return est * g.Backoff
	}
	if float64(w.maxInflight) < est/2 && !w.shed {
		return est // app-limited: the latency says nothing about more load
	}
	gradient := max(0.5, min(1, g.Tolerance*long/w.rtt))
	target := gradient*est + g.QueueSize
	return est*(1-g.Smoothing) + target*g.Smoothing
}

func (g *gradient2) baseline() float64 { return g.avg.value }

type aimd struct {
	AIMD
	long ewma
}

func (a AIMD) controller(uint64) controller {
	a.Backoff = orDefault(a.Backoff, 0.9)
	a.Timeout = time.Duration(orDefault(float64(a.Timeout), float64(5*time.Second)))
	switch {
	case !(a.Backoff >= 0.5 && a.Backoff < 1):
		panic(fmt.Sprintf("loadshed: AIMD backoff must be in [0.5, 1), got %v", a.Backoff))
	case a.Timeout < 0:
		panic(fmt.Sprintf("loadshed: AIMD timeout must be > 0, got %v", a.Timeout))
	}
	return &aimd{AIMD: a, long: ewma{n: 100}}
}

func (a *aimd) update(est float64, w window) float64 {
	a.long.add(w.mean)
	switch {
	case w.drops > 0 || w.rtt > float64(a.Timeout):
		return min(est-1, est*a.Backoff)
	case float64(2*w.maxInflight) >= est || w.shed:
		return est + 1
	}
	return est
}

func (a *aimd) baseline() float64 { return a.long.value }

// fixed keeps the limit and only learns the latency, for
// [WithLearnedServiceTime] with [WithFixedLimit].
type fixed struct{ ewma }

func (f *fixed) update(est float64, w window) float64 { f.add(w.mean); return est }

func orDefault(v, def float64) float64 {
	if v == 0 {
		return def
	}
	return v
}

// Gradient is the default algorithm, after Envoy's adaptive concurrency
// filter (the gradient controller): it compares each window's latency
// with the latency of the service when nothing queues, the minimum RTT,
// which it measures by itself:
//
//	gradient = clamp(minRTT·(1+Buffer) / rtt, 0.5, 2)
//	limit    = gradient·limit + √(gradient·limit)/2   // headroom for bursts
//
// The limit settles where queueing adds about Buffer plus half a square
// root's worth of calls to the minimum RTT: a service of four workers
// settles near six or seven calls, and a call waits less than a service
// time for a worker. So the latency of admitted calls under overload stays
// within about twice the latency without load, however long the overload
// lasts.
//
// Envoy's defaults are a buffer of 25% and a headroom of √limit. With
// them, the load harness's p99 at twice the capacity was 1.7–2.2 times
// the p99 at half of it; with 10% and half the headroom 1.4–1.5 times,
// goodput staying above 99% of the capacity. The price is paid in bursts:
// in the simulation of TestPriorityOverload, whose arrivals are random and
// whose critical load alone is the whole capacity, 93.5% of the critical
// requests succeeded against 95.9% (both with a window's mean latency).
//
// The minimum RTT is measured with the limit at its floor ([WithMinLimit]):
// at the first window, and again every MinRTTInterval (±15%, so that the
// copies of a service do not all probe at once), the limit drops to the
// floor for one window, to drain the queue, and the next window's latency
// becomes the new minimum RTT; the limit then goes back where it
// was. Between probes the minimum RTT does not change, as in Envoy: a
// window of fast calls (cache hits) would otherwise lower it, and the
// ordinary calls after it would shrink a limit they need. A probe keeps
// the limit at the floor for two windows, each at least 100ms
// ([WithSampleWindow]) and twice the average latency, with at least 10 calls:
// 0.2 s every 25.5–34.5 s for a service of a few milliseconds, more for a
// slow one (about 1.8 s for a service time of 300ms).
//
// The tolerated rise is the larger of Buffer·minRTT and 50µs: below that,
// a difference of latency is the scheduler's noise, not queueing, and a
// service of sub-microsecond calls would otherwise shed its work for it.
//
// A window in which at least 1% of the releases were [Dropped] multiplies
// the limit by Backoff, so that calls timing out or whose callers gave up
// after a long wait shrink it whatever the latency says; a lone drop in a
// large window (a slow call whose user left) does not. A window in which
// the service held less than half the limit, and nothing was refused,
// changes nothing ("app-limited", as in Gradient2): the limit did not bind,
// so the latency says nothing about it. A window's latency also shifts
// when the mix of calls does: when a dependency failed fast, so that the
// fast calls that needed it were no samples, the 25th percentile moved
// from theirs to that of the slower calls left, 1.7 times the minimum RTT,
// and, before this rule, an edge holding 2 or 3 calls under a limit of 20
// cut it to the floor and refused 26% of the calls that the fault did not
// concern (examples/cascade, scenario a).
//
// Why not [Gradient2], the default before it: Gradient2 compares the
// latency with its own long-term average, and under a sustained overload
// that average follows the latency the limit lets grow. On loopback, a
// server of 4 workers × 5 ms settled at a limit of about 38 with it, and
// requests queued for 6.6 service times (p99 at twice the capacity 4.4 to
// 5.4 times the p99 at half of it); see the README's overload table for
// Gradient's figures.
//
// A window's latency is the 25th percentile of its calls' latencies, not
// their mean (Envoy takes a percentile too, p50 by default), read from a
// histogram of 8 buckets per power of two. Queueing in the server delays
// every call and moves it; a slow dependency delays only the calls that
// need it, and does not move it while a quarter of the calls or more do
// not: half the calls ten times slower leave the limit where it was,
// where the mean, five times higher, cut it to the floor. Unless the calls
// that slowed were the fastest: the percentile then moves to the latency
// of the next-fastest, and the limit falls if that is well above the
// minimum RTT and the limit binds. The long-term latency ([Canceled],
// [WithLearnedServiceTime]) is still an average of the windows' means.
// The price: under random arrivals some calls find a free worker, so the
// percentile sees less queueing than the mean; in the simulation of
// TestPriorityOverload the p99 rose from 1.8–1.9 to 2.3–2.4 service times,
// 94.0–94.6% of the critical requests succeeding against 92.8–93.5%.
//
// Zero fields take the defaults.
type Gradient struct {
	Buffer         float64       // latency above the minimum RTT tolerated, as a share of it, in (0, 1]; zero means the default 0.1 (Envoy: 0.25)
	MinRTTInterval time.Duration // time between probes of the minimum RTT, in (0, 24h]; default 30s (Envoy: 60s)
	Backoff        float64       // factor after a window with drops, in [0.5, 1); default 0.9
}

func (g Gradient) controller(seed uint64) controller {
	g.Buffer = orDefault(g.Buffer, 0.1)
	g.MinRTTInterval = time.Duration(orDefault(float64(g.MinRTTInterval), float64(30*time.Second)))
	g.Backoff = orDefault(g.Backoff, 0.9)
	switch {
	case !(g.Buffer >= 0 && g.Buffer <= 1):
		panic(fmt.Sprintf("loadshed: Gradient buffer must be in [0, 1], got %v", g.Buffer))
	case g.MinRTTInterval < 0 || g.MinRTTInterval > 24*time.Hour:
		panic(fmt.Sprintf("loadshed: Gradient min RTT interval must be in (0, 24h], got %v", g.MinRTTInterval))
	case !(g.Backoff >= 0.5 && g.Backoff < 1):
		panic(fmt.Sprintf("loadshed: Gradient backoff must be in [0.5, 1), got %v", g.Backoff))
	}
	return &gradient{Gradient: g, avg: ewma{n: 100}, rng: rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))}
}

// The phases of a gradient controller.
const (
	phaseNormal = iota // following the gradient
	phaseDrain         // limit at the floor, waiting for the queue to drain
	phaseProbe         // limit at the floor, measuring the minimum RTT
)

type gradient struct {
	Gradient
	avg       ewma    // of the windows' latency: the baseline
	minRTT    float64 // ns; 0 before the first probe
	phase     int
	saved     float64 // the limit before the probe
	nextProbe int64   // ns since the limiter's epoch
	rng       *rand.Rand
}

func (g *gradient) update(est float64, w window) float64 {
	g.avg.add(w.mean)
	switch g.phase {
	case phaseDrain:
		g.phase = phaseProbe
		return 0 // clamped to the floor
	case phaseProbe:
		g.minRTT, g.phase = w.rtt, phaseNormal
		g.nextProbe = w.at + int64(float64(g.MinRTTInterval)*(0.85+0.3*g.rng.Float64()))
		return g.saved
	}
	if w.at >= g.nextProbe {
		g.saved, g.phase = est, phaseDrain
		if g.minRTT == 0 {
			g.minRTT = w.rtt // the first window: better than nothing
		}
		return 0
	}
	if w.drops > 0 && w.drops*100 >= w.samples {
		return est * g.Backoff
	}
	tolerated := g.minRTT + max(g.minRTT*g.Buffer, float64(50*time.Microsecond))
	gradient := max(0.5, min(2, tolerated/w.rtt))
	next := gradient * est
	next += math.Sqrt(next) / 2
	if float64(w.maxInflight) < est/2 && !w.shed {
		return est // app-limited: the limit did not bind; see Gradient
	}
	return next
}

func (g *gradient) baseline() float64 { return g.avg.value }
