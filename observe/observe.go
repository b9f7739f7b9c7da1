package observe

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/callguard/callguard"
)

// An Observer turns the hooks and state of named policy instances into
// events, measurements, structured logs and state snapshots. It is safe for
// concurrent use. There is no global Observer: a program makes one and
// passes it where policies are built. Policies built without its options,
// and not wrapped by [Observer.Watch], run exactly as without it.
type Observer struct {
	now    func() time.Time
	logger *slog.Logger
	sinks  []Sink

	mu      sync.Mutex
	byKey   map[instanceKey]*Instance
	all     []*Instance // in the order they were named
	recent  ring        // the last refusals and give-ups
	changes ring        // the last breaker transitions
}

// ring keeps the last len(events) events; the Observer's mu guards it.
type ring struct {
	events []Event
	next   int  // index of the next event to write
	filled bool // the ring has wrapped at least once
}

func (r *ring) add(e Event) {
	if len(r.events) == 0 {
		return
	}
	r.events[r.next] = e
	r.next++
	if r.next == len(r.events) {
		r.next, r.filled = 0, true
	}
}

// list returns the events, oldest first.
func (r *ring) list() []Event {
	var out []Event
	if r.filled {
		out = append(out, r.events[r.next:]...)
	}
	return append(out, r.events[:r.next]...)
}

type instanceKey struct {
	kind Kind
	name string
}

// An Option configures an [Observer].
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	clock  callguard.Clock
	logger *slog.Logger
	sinks  []Sink
	recent int
}

const defaultRecent = 50

// WithLogger turns on structured logs: every event is written to l as one
// record with the attributes policy.kind, policy.name, event, reason,
// delay, attempt, priority, request_id and error (those that apply).
// Refusals, give-ups and transitions to open are logged at Warn, the rest
// at Info, limit changes at Debug. The default, and nil, is no logging.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) { c.logger = l })
}

// WithSink adds a sink that receives every event and measurement; it may
// be given more than once. The default is no sink.
func WithSink(s Sink) Option {
	return optionFunc(func(c *config) {
		if s != nil {
			c.sinks = append(c.sinks, s)
		}
	})
}

// WithRecent sets how many recent refusals and give-ups, and apart from
// them how many breaker transitions, the Observer keeps for
// [Observer.Snapshot] and the status page. The default is 50; zero keeps
// none. New panics if n < 0.
func WithRecent(n int) Option {
	return optionFunc(func(c *config) { c.recent = n })
}

// WithClock sets the clock that stamps events and times calls. The
// default is [callguard.SystemClock]; tests pass a fake one, the same as
// the policies', so that a breaker's next probe and its transitions are on
// one time line.
func WithClock(clk callguard.Clock) Option {
	return optionFunc(func(c *config) { c.clock = clk })
}

// New returns an Observer configured by opts. It panics, with a message
// starting "observe: ", if WithRecent is negative.
func New(opts ...Option) *Observer {
	c := config{clock: callguard.SystemClock, recent: defaultRecent}
	for _, opt := range opts {
		opt.apply(&c)
	}
	if c.recent < 0 {
		panic(fmt.Sprintf("observe: recent events must be >= 0, got %d", c.recent))
	}
	if c.clock == nil {
		c.clock = callguard.SystemClock
	}
	o := &Observer{
		logger:  c.logger,
		sinks:   c.sinks,
		byKey:   map[instanceKey]*Instance{},
		recent:  ring{events: make([]Event, c.recent)},
		changes: ring{events: make([]Event, c.recent)},
	}
	if c.clock == callguard.SystemClock {
		o.now = time.Now
	} else {
		o.now = c.clock.Now
	}
	return o
}

// instance returns the instance of that kind and name, creating and
// binding it to the sinks on first use. It panics on an empty name.
func (o *Observer) instance(kind Kind, name string) *Instance {
	if name == "" {
		panic("observe: empty policy name for a " + string(kind))
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	k := instanceKey{kind, name}
	if inst := o.byKey[k]; inst != nil {
		return inst
	}
	inst := &Instance{o: o, kind: kind, name: name, since: o.now()}
	for _, s := range o.sinks {
		if r := s.Bind(inst); r != nil {
			inst.recs = append(inst.recs, r)
		}
	}
	o.byKey[k] = inst
	o.all = append(o.all, inst)
	return inst
}

// Instances returns the named policy instances, sorted by kind and name.
func (o *Observer) Instances() []*Instance {
	o.mu.Lock()
	all := append([]*Instance(nil), o.all...)
	o.mu.Unlock()
	sort.Slice(all, func(i, j int) bool {
		if all[i].kind != all[j].kind {
			return all[i].kind < all[j].kind
		}
		return all[i].name < all[j].name
	})
	return all
}

// emit completes e (time, kind, name, request id), keeps it among the
// recent events if it is one of those, logs it and hands it to the sinks.
func (o *Observer) emit(ctx context.Context, inst *Instance, e Event) {
	e.Time = o.now()
	e.Kind, e.Name = inst.kind, inst.name
	if e.RequestID == "" {
		e.RequestID = callguard.RequestIDFromContext(ctx)
	}
	switch e.Type {
	case EventRefusal, EventGiveUp:
		o.mu.Lock()
		o.recent.add(e)
		o.mu.Unlock()
	case EventTransition:
		o.mu.Lock()
		o.changes.add(e)
		o.mu.Unlock()
	}
	if o.logger != nil {
		o.log(ctx, e)
	}
	for _, r := range inst.recs {
		r.Event(ctx, e)
	}
}

// Recent returns the recent refusals and give-ups, oldest first.
func (o *Observer) Recent() []Event {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.recent.list()
}

// Transitions returns the recent breaker transitions, oldest first.
func (o *Observer) Transitions() []Event {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.changes.list()
}
