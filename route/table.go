package route

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Fixed costs, in bytes, that an entry adds to its key or name in the
// table's byte count: about what its map slot and struct take.
const (
	routeOverhead  = 96
	outageOverhead = 64
)

// maxDeps bounds the dependencies one route is linked to.
const maxDeps = 4

// A Table is a client's bounded, expiring table of the outages that a
// service reported for its dependencies and of the routes that needed
// them (see the package documentation). Use one Table per service called.
// It is safe for concurrent use; the zero value is not usable: call [New].
type Table struct {
	o      options
	linked atomic.Int64 // len(routes): Admit's fast path when 0

	mu      sync.Mutex
	routes  map[string]*link   // route key → the dependencies it needs
	outages map[string]*outage // dependency → its outage
	bytes   int                // counted as Bytes says
}

// A link is a route's entry: the dependencies it was refused for, and when
// it last let a probe through.
type link struct {
	deps  []string
	probe time.Time
}

// An outage is a dependency's entry.
type outage struct {
	until time.Time
	refs  int // links to it
}

// New returns an empty Table. It panics if an option is out of range.
func New(opts ...Option) *Table {
	return &Table{o: newOptions(opts), routes: map[string]*link{}, outages: map[string]*outage{}}
}

// Admit reports whether a request on route may be sent: err is a
// [*RefusedError] when the route needs a dependency that is down. probe is
// true for the one request per probe interval that goes through anyway;
// its caller reports a normal answer with [Table.Recovered]. With no route
// linked, Admit is one atomic load.
func (t *Table) Admit(route string) (probe bool, err error) {
	if t.linked.Load() == 0 {
		return false, nil
	}
	now := t.o.clock.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	l := t.routes[route]
	if l == nil {
		return false, nil
	}
	dep, until := t.down(l, now)
	if dep == "" {
		t.drop(route, l) // every outage it needed has expired
		return false, nil
	}
	if now.Sub(l.probe) >= t.o.probe {
		l.probe = now
		return true, nil
	}
	return false, &RefusedError{Route: route, Dependency: dep, Until: until}
}

// down returns a dependency of l whose outage lasts beyond now, and its end.
func (t *Table) down(l *link, now time.Time) (dep string, until time.Time) {
	for _, d := range l.deps {
		if o := t.outages[d]; o != nil && o.until.After(now) {
			return d, o.until
		}
	}
	return "", time.Time{}
}

// Observe records that a request on route was refused because dependency
// is down, for d from now (d ≤ 0: the table's default, [WithOutage]; at
// most [WithMaxOutage]), and links route to it. A key or name that is
// empty or longer than [MaxKeyLen] is not learned.
func (t *Table) Observe(route, dependency string, d time.Duration) {
	if route == "" || dependency == "" || len(route) > MaxKeyLen || len(dependency) > MaxKeyLen {
		return
	}
	if d <= 0 {
		d = t.o.outage
	}
	now := t.o.clock.Now()
	until := now.Add(min(d, t.o.maxOutage))
	t.mu.Lock()
	defer t.mu.Unlock()
	o := t.outages[dependency]
	l := t.routes[route]
	if o == nil || l == nil {
		// Room for both, as if neither were there: fit may evict o.
		if !t.fit(now, len(dependency)+outageOverhead+len(route)+routeOverhead, 2, route) {
			return
		}
	}
	o, l = t.outages[dependency], t.routes[route] // fit may have evicted them
	if o == nil {
		o = &outage{}
		t.outages[dependency] = o
		t.bytes += len(dependency) + outageOverhead
	}
	o.until = until // the service's latest word counts, shorter or longer
	if l == nil {
		l = &link{probe: now}
		t.routes[route] = l
		t.bytes += len(route) + routeOverhead
		t.linked.Store(int64(len(t.routes)))
	}
	for _, have := range l.deps {
		if have == dependency {
			return
		}
	}
	if len(l.deps) == maxDeps {
		t.unref(l.deps[0])
		l.deps = append(l.deps[:0], l.deps[1:]...)
	}
	l.deps = append(l.deps, dependency)
	o.refs++
}

// Recovered records that a request on route (a probe) got an answer that
// names no outage: the route's links are dropped, its requests go through
// again. The outages stay: other routes that need them find out by their
// own probes.
func (t *Table) Recovered(route string) {
	if t.linked.Load() == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if l := t.routes[route]; l != nil {
		t.drop(route, l)
	}
}

// Len returns the number of entries, routes and outages together.
func (t *Table) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.routes) + len(t.outages)
}

// Bytes returns the size of the table as it is bounded: the lengths of its
// keys and names, and a fixed overhead per entry.
func (t *Table) Bytes() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.bytes
}

// fit makes room for entries more entries of need more bytes, keeping the
// route keep, and reports whether they fit. It requires t.mu.
func (t *Table) fit(now time.Time, need, entries int, keep string) bool {
	full := func() bool {
		return len(t.routes)+len(t.outages)+entries > t.o.maxEntries || t.bytes+need > t.o.maxBytes
	}
	if !full() {
		return true
	}
	t.sweep(now)
	for full() {
		route, l := t.soonest(keep)
		if l == nil {
			return false
		}
		t.drop(route, l)
	}
	return true
}

// sweep drops the routes whose outages have all ended. It requires t.mu.
func (t *Table) sweep(now time.Time) {
	for route, l := range t.routes {
		if dep, _ := t.down(l, now); dep == "" {
			t.drop(route, l)
		}
	}
}

// soonest returns the route other than keep whose outages end first, the
// one to evict, or nil if there is none. It requires t.mu.
func (t *Table) soonest(keep string) (string, *link) {
	var (
		best  string
		bestL *link
		end   time.Time
	)
	for route, l := range t.routes {
		if route == keep {
			continue
		}
		var last time.Time
		for _, d := range l.deps {
			if o := t.outages[d]; o != nil && o.until.After(last) {
				last = o.until
			}
		}
		if bestL == nil || last.Before(end) {
			best, bestL, end = route, l, last
		}
	}
	return best, bestL
}

// drop removes route's link l. It requires t.mu.
func (t *Table) drop(route string, l *link) {
	for _, d := range l.deps {
		t.unref(d)
	}
	delete(t.routes, route)
	t.bytes -= len(route) + routeOverhead
	t.linked.Store(int64(len(t.routes)))
}

// unref drops a link to dep's outage; an outage that no route links to
// goes, since only links refuse requests. It requires t.mu.
func (t *Table) unref(dep string) {
	o := t.outages[dep]
	if o == nil {
		return
	}
	if o.refs--; o.refs <= 0 {
		t.forget(dep)
	}
}

// forget removes dep's outage. It requires t.mu.
func (t *Table) forget(dep string) {
	delete(t.outages, dep)
	t.bytes -= len(dep) + outageOverhead
}

func itoa(n int) string { return strconv.Itoa(n) }

// Linked reports whether any route is linked to an outage: when it is
// false, [Table.Admit] admits every request. It is one atomic load, for an
// adapter that skips computing the route key.
func (t *Table) Linked() bool { return t.linked.Load() != 0 }
