package observe

import (
	"context"
	"time"
)

// A Kind names the type of a policy instance.
type Kind string

// The kinds of policy an [Observer] knows. Names are a documented contract:
// logs and metrics carry them as they are.
const (
	KindBreaker   Kind = "breaker"
	KindRetry     Kind = "retry"
	KindBudget    Kind = "budget" // a retry.Budget
	KindBulkhead  Kind = "bulkhead"
	KindTimeout   Kind = "timeout"
	KindTTL       Kind = "ttl"
	KindLimiter   Kind = "limiter"   // loadshed.Limiter
	KindThrottle  Kind = "throttle"  // loadshed.Throttle
	KindRateLimit Kind = "ratelimit" // loadshed.RateLimit, loadshed.KeyedRateLimit
	KindHedge     Kind = "hedge"     // hedge.Hedger
	KindPolicy    Kind = "policy"    // any other callguard.Policy
)

// An EventType says what happened.
type EventType string

// The events an [Observer] reports. Names are a documented contract.
const (
	// EventRetry: a retry policy will retry after Delay; Attempt is the
	// number of the attempt that failed with Err.
	EventRetry EventType = "retry"
	// EventTransition: a breaker changed state From one To another.
	EventTransition EventType = "transition"
	// EventRefusal: a policy refused a call without running it, for Reason.
	EventRefusal EventType = "refusal"
	// EventGiveUp: a retry policy stopped retrying, for Reason, after
	// Attempt attempts; Err is the error it returned.
	EventGiveUp EventType = "giveup"
	// EventLimit: an adaptive limiter moved its limit from From to To.
	EventLimit EventType = "limit"
	// EventHedge: a hedging policy started hedge number Attempt (2 for the
	// first hedge) beside the call's first attempt.
	EventHedge EventType = "hedge"
)

// An Event is one thing a named policy instance did. Fields that do not
// apply to its Type are zero.
type Event struct {
	Time      time.Time
	Kind      Kind
	Name      string
	Type      EventType
	Reason    string        // refusal: open, full, limit, throttle, rate, loop, hops, ...; giveup: the stop reason
	From, To  string        // transition: breaker states; limit: old and new limits
	Attempt   int           // retry, giveup, hedge
	Delay     time.Duration // retry: the wait before the next attempt
	Priority  string        // refusal: the request's priority (critical, default, sheddable)
	RequestID string        // from callguard.RequestIDFromContext
	Err       error         // retry, refusal, giveup
}

// An Outcome classifies how a call ended.
type Outcome uint8

// The outcomes of a measured call.
const (
	OutcomeSuccess Outcome = iota // returned nil
	OutcomeFailure                // returned an error that was not a refusal
	OutcomeRefused                // the policy refused the call without running it
)

// String returns "success", "failure" or "refused".
func (o Outcome) String() string {
	switch o {
	case OutcomeSuccess:
		return "success"
	case OutcomeFailure:
		return "failure"
	case OutcomeRefused:
		return "refused"
	}
	return "unknown"
}

// A Stage says which duration a [Measurement] is.
type Stage uint8

// The stages of a call.
const (
	StageCall    Stage = iota // a call offered to the policy, from entry to return
	StageAttempt              // one attempt a retry or hedging policy made (first included)
)

// A Measurement is the duration and outcome of one call or attempt through
// a watched policy ([Observer.Watch]).
type Measurement struct {
	Stage    Stage
	Duration time.Duration
	Outcome  Outcome
	Reason   string // refusal reason when Outcome is OutcomeRefused
}

// A Sink receives what an [Observer] sees: the OpenTelemetry module of
// callguard is one. Bind runs once for each named policy instance, when
// the instance is first named; the Recorder it returns receives that
// instance's events and measurements, so a sink can prepare what it needs
// per instance (OpenTelemetry attribute sets) once, not per call.
type Sink interface {
	Bind(inst *Instance) Recorder
}

// A Recorder receives the events and measurements of one policy instance.
// Its methods run on the goroutine of the call (or, for breaker transitions
// and limit changes, of whatever caused them, with a background context)
// and must be quick and safe for concurrent use. Event runs for every
// event, Measure for every call and attempt of a watched policy.
type Recorder interface {
	Event(ctx context.Context, e Event)
	Measure(ctx context.Context, m Measurement)
}

// EventFunc adapts a function to a [Sink] that receives every event of
// every instance, and no measurements: the place for a hook of your own
// that one of the Observer's options replaced (for example a breaker's
// OnStateChange, which now arrives as an [EventTransition]).
type EventFunc func(ctx context.Context, e Event)

// Bind returns f as the Recorder of every instance.
func (f EventFunc) Bind(*Instance) Recorder { return eventFunc(f) }

type eventFunc func(ctx context.Context, e Event)

func (f eventFunc) Event(ctx context.Context, e Event) { f(ctx, e) }
func (eventFunc) Measure(context.Context, Measurement) {}
