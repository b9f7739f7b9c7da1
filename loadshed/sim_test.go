package loadshed

import (
	"context"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/callguard/callguard/callguardtest"
)

// simConfig describes a simulated service and the load offered to it. The
// service has a fixed capacity: a pool of workers, each serving one request
// at a time, in arrival order; requests beyond the pool wait for a worker,
// so latency grows with the load beyond capacity, as a real server's does.
// Before warmup the load is half the capacity; then it is load times it.
type simConfig struct {
	workers  int
	work     time.Duration // service time of one request
	load     float64       // offered load after warmup, in multiples of capacity
	critical float64       // share of critical requests; the rest are sheddable
	timeout  time.Duration // a client gives up after it
	duration time.Duration
	warmup   time.Duration // not counted
	seed     uint64
	waits    bool // the limiter may queue: Acquire runs in goroutines
}

type simResult struct {
	offered, ok [3]int // by Priority.index, after warmup
	latencies   []time.Duration
	limit       int
}

func (r *simResult) rate(p Priority) float64 {
	return float64(r.ok[rank(p)]) / float64(max(r.offered[rank(p)], 1))
}

type simReq struct {
	tok     Token
	p       Priority
	seq     int // order of arrival
	arrival time.Duration
	left    time.Duration // work left
}

// sim runs the service one millisecond at a time on a fake clock. It is
// deterministic for a seed, also when the limiter queues and Acquire runs
// in goroutines: the simulation starts one Acquire at a time and waits until
// it has returned or queued (settle), releases one token at a time and
// waits for the waiter it woke, and gives the workers to requests in order
// of arrival, whatever order their goroutines ran in. A nil limiter admits
// everything.
type sim struct {
	cfg         simConfig
	l           *Limiter
	clk         *callguardtest.Clock
	rng         *rand.Rand
	ctxs        [3]context.Context
	active      []*simReq
	res         simResult
	admitted    chan *simReq // from Acquire in goroutines, when cfg.waits
	outstanding int          // goroutines in Acquire
	seq         int
}

const simTick = time.Millisecond

func simulate(cfg simConfig, l *Limiter, clk *callguardtest.Clock) simResult {
	s := &sim{cfg: cfg, l: l, clk: clk, rng: rand.New(rand.NewPCG(cfg.seed, 1)), admitted: make(chan *simReq, 4096)}
	for _, p := range []Priority{Sheddable, Default, Critical} {
		s.ctxs[rank(p)] = NewContext(context.Background(), p)
	}
	for now := time.Duration(0); now < cfg.duration; now += simTick {
		s.arrive(now)
		s.settle()
		clk.Advance(simTick) // queue timeouts fire
		s.settle()
		s.work(now + simTick)
		s.settle()
	}
	for s.outstanding > 0 {
		clk.Advance(simTick)
		s.settle()
	}
	for _, r := range s.active {
		r.tok.Release(Ignored)
	}
	if l != nil {
		s.res.limit = l.Limit()
	}
	return s.res
}

func (s *sim) arrive(now time.Duration) {
	load := 0.5
	if now >= s.cfg.warmup {
		load = s.cfg.load
	}
	for range poisson(s.rng, load*float64(s.cfg.workers)*float64(simTick)/float64(s.cfg.work)) {
		p := Sheddable
		if s.rng.Float64() < s.cfg.critical {
			p = Critical
		}
		if now >= s.cfg.warmup {
			s.res.offered[rank(p)]++
		}
		s.seq++
		r := &simReq{p: p, seq: s.seq, arrival: now, left: s.cfg.work}
		switch {
		case s.l == nil:
			s.active = append(s.active, r)
		case s.cfg.waits:
			s.outstanding++
			go func() {
				tok, err := s.l.Acquire(s.ctxs[rank(p)])
				if err != nil {
					r = nil
				} else {
					r.tok = tok
				}
				s.admitted <- r
			}()
			s.settle() // one at a time: the queue's order is the arrival order
		default:
			if tok, err := s.l.Acquire(s.ctxs[rank(p)]); err == nil {
				r.tok = tok
				s.active = append(s.active, r)
			}
		}
	}
}

// settle waits until every goroutine in Acquire has returned or waits in
// the queue with its timer set.
func (s *sim) settle() {
	for s.cfg.waits {
		select {
		case r := <-s.admitted:
			s.outstanding--
			if r != nil {
				s.active = append(s.active, r)
			}
			continue
		default:
		}
		if q := s.l.Queued(); q == s.outstanding && s.clk.Timers() == q {
			return
		}
		runtime.Gosched()
	}
}

// work runs the workers for a tick ending at end, in arrival order. It
// releases one token at a time and settles after each, so that a waiter
// woken by a release takes its slot before the next release.
func (s *sim) work(end time.Duration) {
	active, busy := s.active, 0
	slices.SortFunc(active, func(a, b *simReq) int { return a.seq - b.seq })
	s.active = nil // settle appends the waiters admitted meanwhile
	kept := make([]*simReq, 0, len(active))
	for _, r := range active {
		if busy < s.cfg.workers {
			busy++
			r.left -= simTick
		}
		switch {
		case end-r.arrival > s.cfg.timeout: // the client gave up; the server stops
			r.tok.Release(Dropped)
		case r.left <= 0:
			r.tok.Release(Success)
			if r.arrival >= s.cfg.warmup {
				s.res.ok[rank(r.p)]++
				s.res.latencies = append(s.res.latencies, end-r.arrival)
			}
		default:
			kept = append(kept, r)
			continue
		}
		s.settle()
	}
	s.active = append(kept, s.active...)
}

// poisson draws from a Poisson distribution of mean m (Knuth).
func poisson(rng *rand.Rand, m float64) int {
	limit, k, p := math.Exp(-m), 0, rng.Float64()
	for p > limit {
		k++
		p *= rng.Float64()
	}
	return k
}

func percentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(int(q*float64(len(s))), len(s)-1)]
}

var overload = simConfig{
	workers: 10, work: 10 * time.Millisecond, load: 2, critical: 0.5,
	timeout: 100 * time.Millisecond, duration: 30 * time.Second, warmup: 5 * time.Second, seed: 1,
}

// TestPriorityOverload offers twice a service's capacity, half of it
// critical, and checks that the limiter keeps at least 92% of the critical
// requests succeeding, where without it nearly all time out, with a p99
// latency of at most 2.5 service times. Critical load alone is the whole
// capacity here and arrives at random, so the limiter trades latency for
// critical throughput: Gradient with Envoy's buffer and headroom kept
// 95.9% with a p99 of 2.6 service times; the default (10%, half the
// headroom) kept 92.8–93.5% with 1.8–1.9 (seeds 1–6) while a window's
// latency was its mean, and keeps 94.0–94.6% with 2.3–2.4 with its 25th
// percentile, which sees less of the queueing that random arrivals cause.
func TestPriorityOverload(t *testing.T) {
	clk := callguardtest.NewClock()
	with := simulate(overload, New(WithClock(clk)), clk)
	without := simulate(overload, nil, callguardtest.NewClock())
	t.Logf("2x overload, 50%% critical, with limiter: critical %.1f%%, sheddable %.1f%% succeed; p50 %v, p99 %v; limit %d",
		100*with.rate(Critical), 100*with.rate(Sheddable), percentile(with.latencies, 0.5), percentile(with.latencies, 0.99), with.limit)
	t.Logf("2x overload, 50%% critical, without: critical %.1f%%, sheddable %.1f%% succeed",
		100*without.rate(Critical), 100*without.rate(Sheddable))
	if got := with.rate(Critical); got < 0.92 {
		t.Errorf("critical success = %.3f, want >= 0.92", got)
	}
	if got := with.rate(Sheddable); got > with.rate(Critical)/2 {
		t.Errorf("sheddable success = %.3f, want well below critical", got)
	}
	if p99 := percentile(with.latencies, 0.99); p99 > 5*overload.work/2 {
		t.Errorf("p99 latency = %v, want <= %v", p99, 5*overload.work/2)
	}
}

// TestOverloadAlone checks that one priority alone, even sheddable, gets
// the whole capacity under overload: the shares cost no throughput.
func TestOverloadAlone(t *testing.T) {
	for _, crit := range []float64{0, 1} {
		cfg := overload
		cfg.critical, cfg.duration = crit, 15*time.Second
		clk := callguardtest.NewClock()
		res := simulate(cfg, New(WithClock(clk)), clk)
		goodput := cfg.load * (res.rate(Critical) + res.rate(Sheddable))
		t.Logf("2x overload, %.0f%% critical: goodput %.1f%% of capacity, p99 %v, limit %d",
			100*crit, 100*goodput, percentile(res.latencies, 0.99), res.limit)
		if goodput < 0.9 {
			t.Errorf("critical share %v: goodput = %.3f of capacity, want >= 0.9", crit, goodput)
		}
	}
}

// TestQueueOrder measures the order and bound of the wait queue: CoDel
// with FIFO (the default) against CoDel with LIFO while the queue stands,
// plain LIFO and plain FIFO, at twice the capacity with a 50ms max wait,
// for clients that give up after 100ms and after 40ms.
func TestQueueOrder(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation with goroutines")
	}
	names := []string{"CoDel FIFO", "CoDel LIFO", "LIFO", "FIFO"}
	for _, timeout := range []time.Duration{100 * time.Millisecond, 40 * time.Millisecond} {
		cfg := overload
		cfg.duration, cfg.waits, cfg.timeout = 10*time.Second, true, timeout
		var p50 [4]time.Duration
		var crit [4]float64
		for i, mode := range []queueMode{codelFIFO, codelLIFO, modeLIFO, modeFIFO} {
			clk := callguardtest.NewClock()
			res := simulate(cfg, New(WithClock(clk), WithMaxWait(50*time.Millisecond), withQueueMode(mode)), clk)
			p50[i], crit[i] = percentile(res.latencies, 0.5), res.rate(Critical)
			t.Logf("client timeout %v, %s: critical %.1f%%, sheddable %.1f%% succeed; p50 %v, p99 %v; limit %d",
				timeout, names[i], 100*res.rate(Critical), 100*res.rate(Sheddable),
				p50[i], percentile(res.latencies, 0.99), res.limit)
		}
		if p50[0] > p50[3] {
			t.Errorf("timeout %v: p50 latency with CoDel %v > with FIFO %v", timeout, p50[0], p50[3])
		}
		if crit[0] < 0.95 {
			t.Errorf("timeout %v: critical success with CoDel = %.3f, want >= 0.95", timeout, crit[0])
		}
	}
}
