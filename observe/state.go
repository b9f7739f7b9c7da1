package observe

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/callguard/callguard/breaker"
	"github.com/callguard/callguard/bulkhead"
	"github.com/callguard/callguard/hedge"
	"github.com/callguard/callguard/loadshed"
	"github.com/callguard/callguard/retry"
)

// An Instance is one named policy instance of an [Observer]. Sinks receive
// it in [Sink.Bind] and read its state with [Instance.State], for example
// from a metrics callback. It is safe for concurrent use.
type Instance struct {
	o    *Observer
	kind Kind
	name string
	recs []Recorder // fixed when the instance is made

	calls, failures, attempts atomic.Uint64

	mu          sync.Mutex
	watched     any // the policy or budget whose accessors State reads
	refusals    map[string]uint64
	shed        map[string]uint64 // refusals of a limiter, throttle or rate limit, by priority
	retries     uint64
	hedges      uint64
	giveUps     uint64
	transitions uint64
	state       string    // breaker state as the hook last saw it, "" before any change
	since       time.Time // time of the last transition, or when the instance was named
	probe       ProbeState
}

// Kind returns the instance's kind.
func (inst *Instance) Kind() Kind { return inst.kind }

// Name returns the instance's name.
func (inst *Instance) Name() string { return inst.name }

// watch records the value whose accessors State reads. It panics if a
// different value was watched under the same kind and name.
func (inst *Instance) watch(v any) {
	inst.mu.Lock()
	defer inst.mu.Unlock()
	if inst.watched != nil && inst.watched != v {
		panic("observe: two different policies watched as " + string(inst.kind) + " " + quote(inst.name))
	}
	inst.watched = v
}

func quote(s string) string { return `"` + s + `"` }

// State is a snapshot of one named policy instance. Counters count from
// the moment the instance was named; the sections that do not apply to
// its kind are nil.
type State struct {
	Kind     Kind              `json:"kind"`
	Name     string            `json:"name"`
	Calls    uint64            `json:"calls"`              // calls through the watched policy
	Failures uint64            `json:"failures"`           // calls that returned an error other than a refusal
	Refusals map[string]uint64 `json:"refusals,omitempty"` // by reason

	Breaker  *BreakerState     `json:"breaker,omitempty"`
	Retry    *RetryState       `json:"retry,omitempty"`
	Budget   *BudgetState      `json:"budget,omitempty"`
	Bulkhead *BulkheadState    `json:"bulkhead,omitempty"`
	Limiter  *LimiterState     `json:"limiter,omitempty"`
	Throttle *ThrottleState    `json:"throttle,omitempty"`
	Hedge    *HedgeState       `json:"hedge,omitempty"`
	Probe    *ProbeState       `json:"probe,omitempty"`
	Shed     map[string]uint64 `json:"shed,omitempty"` // refusals of a limiter, throttle or rate limit, by priority
}

// BreakerState is the state of a circuit breaker.
type BreakerState struct {
	State       string    `json:"state"`               // closed, half-open or open
	Since       time.Time `json:"since"`               // last transition seen by the hook, or when named
	OpenUntil   time.Time `json:"open_until,omitzero"` // when the next probe may go, if open
	Transitions uint64    `json:"transitions"`
	Counts      Counts    `json:"counts"`
}

// Counts are a breaker's counts of calls since its last change of state
// (see breaker.Counts).
type Counts struct {
	Requests             uint32 `json:"requests"`
	TotalSuccesses       uint32 `json:"total_successes"`
	TotalFailures        uint32 `json:"total_failures"`
	TotalExclusions      uint32 `json:"total_exclusions"`
	ConsecutiveSuccesses uint32 `json:"consecutive_successes"`
	ConsecutiveFailures  uint32 `json:"consecutive_failures"`
}

// RetryState counts what a retry policy did.
type RetryState struct {
	Attempts uint64 `json:"attempts"` // attempts made, the first of each call included
	Retries  uint64 `json:"retries"`
	GiveUps  uint64 `json:"give_ups"`
}

// BudgetState is the state of a retry budget.
type BudgetState struct {
	Tokens   float64 `json:"tokens"`
	Capacity float64 `json:"capacity"`
}

// BulkheadState is the state of a bulkhead.
type BulkheadState struct {
	InFlight int `json:"in_flight"`
	Limit    int `json:"limit"`
}

// LimiterState is the state of an adaptive limiter (loadshed.Limiter).
type LimiterState struct {
	Limit           int    `json:"limit"`
	InFlight        int    `json:"in_flight"`
	Queued          int    `json:"queued"`
	DeadlineRejects uint64 `json:"deadline_rejects"`
}

// HedgeState counts what a hedging policy did.
type HedgeState struct {
	Attempts uint64        `json:"attempts"` // attempts made, the first of each call included
	Hedges   uint64        `json:"hedges"`   // hedges started
	Delay    time.Duration `json:"delay"`    // the current hedging delay
}

// ThrottleState is the state of a client-side throttle (loadshed.Throttle):
// the probability with which it now rejects a call, by priority.
type ThrottleState struct {
	Probability map[string]float64 `json:"probability"`
}

// State returns a snapshot of the instance. It reads the watched policy's
// accessors; reading a breaker's state may move an open circuit whose
// timeout has passed to half-open, as [breaker.Breaker.State] does.
func (inst *Instance) State() State {
	st, watched := inst.counted()
	// The accessors run without inst.mu: a breaker's State may call the
	// transition hook, which takes it.
	switch v := watched.(type) {
	case *breaker.Breaker:
		st.Breaker.State = v.State().String()
		st.Breaker.Counts = Counts(v.Counts())
		st.Breaker.OpenUntil = v.OpenUntil()
		inst.mu.Lock() // State may have moved the circuit on: the hook's time
		st.Breaker.Since, st.Breaker.Transitions = inst.since, inst.transitions
		inst.mu.Unlock()
	case *retry.Budget:
		st.Budget = &BudgetState{Tokens: v.Available(), Capacity: v.Capacity()}
	case *bulkhead.Bulkhead:
		st.Bulkhead = &BulkheadState{InFlight: v.InFlight(), Limit: v.Limit()}
	case *hedge.Hedger:
		st.Hedge.Delay = v.Delay()
	case *loadshed.Throttle:
		st.Throttle = &ThrottleState{Probability: map[string]float64{}}
		for _, p := range []loadshed.Priority{loadshed.Critical, loadshed.Default, loadshed.Sheddable} {
			st.Throttle.Probability[p.String()] = v.Probability(p)
		}
	case *loadshed.Limiter:
		st.Limiter = &LimiterState{Limit: v.Limit(), InFlight: v.InFlight(), Queued: v.Queued(), DeadlineRejects: v.DeadlineRejects()}
	}
	return st
}

// counted returns the instance's own counts, as a State with the sections
// that the hooks fill, and the watched value whose accessors fill the rest.
func (inst *Instance) counted() (State, any) {
	inst.mu.Lock()
	defer inst.mu.Unlock()
	st := State{
		Kind:     inst.kind,
		Name:     inst.name,
		Calls:    inst.calls.Load(),
		Failures: inst.failures.Load(),
		Refusals: copyMap(inst.refusals),
		Shed:     copyMap(inst.shed),
	}
	switch inst.kind {
	case KindBreaker:
		st.Breaker = &BreakerState{State: inst.state, Since: inst.since, Transitions: inst.transitions}
		if st.Breaker.State == "" {
			st.Breaker.State = breaker.Closed.String()
		}
	case KindRetry:
		st.Retry = &RetryState{Attempts: inst.attempts.Load(), Retries: inst.retries, GiveUps: inst.giveUps}
	case KindHedge:
		st.Hedge = &HedgeState{Attempts: inst.attempts.Load(), Hedges: inst.hedges}
	case KindProbe:
		p := inst.probe // the runs are never changed once recorded
		st.Probe = &p
	}
	return st, inst.watched
}

func copyMap(m map[string]uint64) map[string]uint64 {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]uint64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// A Snapshot is the state of every named instance of an [Observer] and its
// recent events.
type Snapshot struct {
	Time        time.Time `json:"time"`
	Policies    []State   `json:"policies"`
	Recent      []Event   `json:"recent"`      // refusals and give-ups, oldest first
	Transitions []Event   `json:"transitions"` // breaker transitions, oldest first
}

// Snapshot returns the state of every named instance, sorted by kind and
// name, and the recent events.
func (o *Observer) Snapshot() Snapshot {
	s := Snapshot{Time: o.now(), Recent: o.Recent(), Transitions: o.Transitions()}
	for _, inst := range o.Instances() {
		s.Policies = append(s.Policies, inst.State())
	}
	return s
}

// refused counts a refusal and emits its event.
func (inst *Instance) refused(ctx context.Context, reason string, err error, shed bool) {
	prio := ""
	if shed {
		prio = loadshed.FromContext(ctx).String()
	}
	inst.mu.Lock()
	if inst.refusals == nil {
		inst.refusals = map[string]uint64{}
	}
	inst.refusals[reason]++
	if shed {
		if inst.shed == nil {
			inst.shed = map[string]uint64{}
		}
		inst.shed[prio]++
	}
	inst.mu.Unlock()
	inst.o.emit(ctx, inst, Event{Type: EventRefusal, Reason: reason, Priority: prio, Err: err})
}
