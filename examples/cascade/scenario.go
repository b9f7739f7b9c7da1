package main

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// baseConfig is the system every scenario starts from. Capacities:
// payments 1 worker × 5 ms (200/s), catalog 2 workers × 20 ms (100/s).
func baseConfig(st setup) config {
	return config{
		guarded:      st != without,
		routes:       st == withRoutes,
		edgeDeadline: time.Second,
		apiWork:      time.Millisecond,
		ordersWork:   5 * time.Millisecond,
		payWorkers:   1, payWork: 5 * time.Millisecond,
		catWorkers: 2, catWork: 20 * time.Millisecond,
	}
}

const catalogCapacity = 100.0 // requests per second, baseConfig's

// baseRates are the users' requests per second on each route.
var baseRates = [nRoutes]float64{checkout: 50, browse: 50}

// A scenario is one row pair of the table: a fault, switched on after a
// warm-up and off again, and what to count.
type scenario struct {
	id, name string
	route    int    // the route that needs the failing service
	counted  string // what calls counts
	calls    func(counts) int64
	shape    func(*config)       // changes to baseConfig
	rates    *[nRoutes]float64   // nil: baseRates
	fault    *[nRoutes]float64   // rates while the fault lasts; nil: unchanged
	on, off  func(*system) error // the fault; nil: none, the shape is the fault
	routes   bool                // run a third setup, with route availability
	outage   bool                // lasts timeline.outage, not timeline.fault
	hold     bool                // switched off only once the window's requests have ended
	steady   bool                // the fault is the shape: nothing to recover from
}

var scenarios = []*scenario{
	{
		id: "a", name: "payments down", route: checkout, outage: true, routes: true,
		counted: "payments attempts", calls: func(c counts) int64 { return c[payCalls] },
		on:  func(sys *system) error { sys.payments.down(); return nil },
		off: func(sys *system) error { return sys.payments.up() },
	},
	{
		id: "b", name: "payments 10× slower", route: checkout,
		counted: "payments attempts", calls: func(c counts) int64 { return c[payCalls] },
		on:  func(sys *system) error { sys.payPool.setWork(10 * sys.cfg.payWork); return nil },
		off: func(sys *system) error { sys.payPool.setWork(sys.cfg.payWork); return nil },
	},
	{
		id: "c", name: "catalog offered 3× capacity", route: browse,
		counted: "catalog attempts", calls: func(c counts) int64 { return c[catCalls] },
		fault: &[nRoutes]float64{checkout: baseRates[checkout], browse: 3 * catalogCapacity},
	},
	{
		id: "d", name: "loop: orders → api", route: checkout, hold: true,
		counted: "api visits", calls: func(c counts) int64 { return c[apiArrivals] },
		// Fewer checkouts: without callguard each one nests hundreds of
		// requests deep, a connection at every level. The mistake is fixed
		// only when the window's requests have ended: a request still
		// nesting would otherwise reach payments and succeed.
		rates: &[nRoutes]float64{checkout: 10, browse: baseRates[browse]},
		on: func(sys *system) error {
			api := "http://" + sys.api.addr
			sys.ordersTarget.Store(&api)
			return nil
		},
		off: func(sys *system) error {
			pay := "http://" + sys.payments.addr
			sys.ordersTarget.Store(&pay)
			return nil
		},
	},
	{
		id: "e", name: "100 ms deadline, 60 ms tail", route: checkout, steady: true,
		counted: "payments starts too late", calls: func(c counts) int64 { return c[payWasted] },
		// Every 5th orders request takes 60 ms more (the tail); payments
		// then needs 40 ms more, and declares it with callguard.
		shape: func(c *config) {
			c.edgeDeadline = 100 * time.Millisecond
			c.ordersTail, c.tailEvery = 60*time.Millisecond, 5
			c.payWorkers, c.payWork = 8, 40*time.Millisecond
			c.payMinService = 50 * time.Millisecond
		},
	},
}

// A timeline is how long each part of a run lasts.
type timeline struct {
	warm       time.Duration // load before the fault
	outage     time.Duration // scenario a's fault
	fault      time.Duration // the other faults
	skip       time.Duration // the start of a fault left out of the "after warm-up" figures
	maxRecover time.Duration // longest wait for recovery after a fault; 0: not measured
}

// A result is what one run of a scenario measured.
type result struct {
	sc     *scenario
	setup  setup
	window time.Duration // the fault's
	outs   []outcome     // requests started in the window
	routeN int           // of those, on sc.route
	c      counts        // during the window
	// After warm-up: the window less its first timeline.skip.
	routeNWarm int
	cWarm      counts

	recoverMeasured, recovered bool
	recovery, maxRecover       time.Duration
}

// A setup is who guards the system.
type setup int

const (
	without    setup = iota // plain clients, naive retries
	withStacks              // stack.Server and stack.Client everywhere
	withRoutes              // withStacks, and route availability on the checkout path
)

var setupNames = []string{"without", "callguard", "+ routes"}

// runAll runs the scenario without callguard and with it (and with route
// availability, if sc.routes), each on a system of its own, at the same
// time: the machine's state is the same for all, and the loads together
// keep a 2-core machine far from busy.
func (sc *scenario) runAll(tl timeline) ([]*result, error) {
	setups := []setup{without, withStacks}
	if sc.routes {
		setups = append(setups, withRoutes)
	}
	rs := make([]*result, len(setups))
	errs := make([]error, len(setups))
	var wg sync.WaitGroup
	for i, st := range setups {
		wg.Go(func() { rs[i], errs[i] = sc.run(st, tl) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return rs, nil
}

// run builds a fresh system, offers load, switches the fault on and off
// and measures. It returns when every request has ended and the system is
// closed.
func (sc *scenario) run(st setup, tl timeline) (_ *result, err error) {
	cfg := baseConfig(st)
	if sc.shape != nil {
		sc.shape(&cfg)
	}
	sys, err := newSystem(cfg)
	if err != nil {
		return nil, err
	}
	defer sys.close()
	rates := baseRates
	if sc.rates != nil {
		rates = *sc.rates
	}
	ld := startLoad("http://"+sys.edge.addr, cfg.edgeDeadline+time.Second, rates)
	defer ld.finish() // before sys.close

	time.Sleep(tl.warm)
	window := tl.fault
	if sc.outage {
		window = tl.outage
	}
	skip := min(tl.skip, window/2)
	c0, t0 := sys.counts(), ld.now()
	if sc.on != nil {
		if err := sc.on(sys); err != nil {
			return nil, err
		}
	}
	if sc.fault != nil {
		for r, v := range sc.fault {
			ld.setRate(r, v)
		}
	}
	time.Sleep(skip)
	c1, t1 := sys.counts(), ld.now()
	time.Sleep(window - skip)
	c2, t2 := sys.counts(), ld.now()
	tw := t2 // the window's end
	if sc.hold {
		time.Sleep(ld.patience)
		t2 = ld.now() // recovery counts from the fix
	}
	if sc.off != nil {
		if err := sc.off(sys); err != nil {
			return nil, err
		}
	}
	for r, v := range rates {
		ld.setRate(r, v)
	}
	res := &result{sc: sc, setup: st, window: tw - t0, c: c2.sub(c0), cWarm: c2.sub(c1)}
	if !sc.steady && tl.maxRecover > 0 {
		res.recoverMeasured, res.maxRecover = true, tl.maxRecover
		for ld.now()-t2 < tl.maxRecover+cfg.edgeDeadline+time.Second && !res.recovered {
			time.Sleep(100 * time.Millisecond)
			res.recovery, res.recovered = ld.recovered(sc.route, t2)
			res.recovered = res.recovered && res.recovery <= tl.maxRecover
		}
	}
	res.outs = ld.window(t0, tw)
	for _, o := range res.outs {
		if o.route == sc.route {
			res.routeN++
			if o.start >= t1 {
				res.routeNWarm++
			}
		}
	}
	return res, nil
}

// The figures of a result.

func (r *result) goodput() (perSecond, share float64) {
	ok := 0
	for _, o := range r.outs {
		if o.ok {
			ok++
		}
	}
	if len(r.outs) == 0 {
		return 0, 0
	}
	return float64(ok) / r.window.Seconds(), float64(ok) / float64(len(r.outs))
}

// routeOK returns the ok requests per second on route, and their share.
func (r *result) routeOK(route int) (perSecond, share float64) {
	n, ok := 0, 0
	for _, o := range r.outs {
		if o.route == route {
			n++
			if o.ok {
				ok++
			}
		}
	}
	return float64(ok) / r.window.Seconds(), ratio(int64(ok), n)
}

func (r *result) latency(q float64) time.Duration {
	if len(r.outs) == 0 {
		return 0
	}
	lat := make([]time.Duration, len(r.outs))
	for i, o := range r.outs {
		lat[i] = o.latency
	}
	slices.Sort(lat)
	return lat[min(len(lat)-1, int(q*float64(len(lat))))]
}

// perRequest is calls to the failing service per edge request on its
// route, over the window, and after warm-up.
func (r *result) perRequest() (all, warm float64) {
	return ratio(r.sc.calls(r.c), r.routeN), ratio(r.sc.calls(r.cWarm), r.routeNWarm)
}

func (r *result) refusedAtEdge() float64 { return ratio(r.c.edgeRefused(), len(r.outs)) }

func ratio(n int64, d int) float64 {
	if d == 0 {
		return 0
	}
	return float64(n) / float64(d)
}

func (r *result) setupName() string { return setupNames[r.setup] }

func (r *result) recoveryText() string {
	switch {
	case !r.recoverMeasured:
		return "-"
	case !r.recovered:
		return fmt.Sprintf("> %v", r.maxRecover)
	}
	return fmt.Sprintf("%.2fs", r.recovery.Seconds())
}
