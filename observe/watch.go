package observe

import (
	"context"
	"errors"
	"time"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/breaker"
	"github.com/callguard/callguard/bulkhead"
	"github.com/callguard/callguard/hedge"
	"github.com/callguard/callguard/loadshed"
	"github.com/callguard/callguard/retry"
	"github.com/callguard/callguard/timeout"
	"github.com/callguard/callguard/ttl"
)

// Watch names p and returns a policy that behaves as p and reports, for
// every call through it, its duration, its outcome and, when p refused
// it, a refusal event with the reason and the request id; for a
// *retry.Retry or a *hedge.Hedger, also every attempt. The kind comes from p's type
// (*breaker.Breaker, *retry.Retry, *bulkhead.Bulkhead, *loadshed.Limiter,
// ...; [KindPolicy] for any other), and snapshots read p's state through
// its accessors (State, Counts, Limit, InFlight, ...).
//
// Put the returned policy in the pipeline in place of p. Watch panics if
// p is nil or a different policy was watched under the same kind and name.
func (o *Observer) Watch(name string, p callguard.Policy) *Watched {
	if p == nil {
		panic("observe: Watch with a nil policy")
	}
	inst := o.instance(kindOf(p), name)
	inst.watch(p)
	w := &Watched{p: p, inst: inst}
	w.h = w.Wrap(callguard.Invoke)
	return w
}

// A Watched is a policy wrapped by [Observer.Watch]. It is safe for
// concurrent use.
type Watched struct {
	p    callguard.Policy
	inst *Instance
	h    callguard.Handler
}

// Policy returns the watched policy.
func (w *Watched) Policy() callguard.Policy { return w.p }

// CallguardRole returns the watched policy's role, so that
// callguard.CheckClient and CheckServer judge a watched policy as the
// policy itself.
func (w *Watched) CallguardRole() callguard.Role { return callguard.RoleOf(w.p) }

// Do runs fn through the watched policy, as its own Do would, and records
// the call.
func (w *Watched) Do(ctx context.Context, fn func(context.Context) error) error {
	return w.h(ctx, fn)
}

// Wrap wraps next in the watched policy and records each call through it.
func (w *Watched) Wrap(next callguard.Handler) callguard.Handler {
	inst := w.inst
	perAttempt := inst.kind == KindRetry || inst.kind == KindHedge
	if perAttempt && len(inst.recs) == 0 {
		attempt := next
		next = func(ctx context.Context, call func(context.Context) error) error {
			err := attempt(ctx, call)
			inst.done(ctx, StageAttempt, 0, err)
			return err
		}
	} else if perAttempt {
		attempt := next
		next = func(ctx context.Context, call func(context.Context) error) error {
			start := inst.o.now()
			err := attempt(ctx, call)
			inst.done(ctx, StageAttempt, inst.o.now().Sub(start), err)
			return err
		}
	}
	h := w.p.Wrap(next)
	if len(inst.recs) == 0 {
		// No sink wants durations: count without reading the clock.
		return func(ctx context.Context, call func(context.Context) error) error {
			err := h(ctx, call)
			inst.done(ctx, StageCall, 0, err)
			return err
		}
	}
	return func(ctx context.Context, call func(context.Context) error) error {
		start := inst.o.now()
		err := h(ctx, call)
		inst.done(ctx, StageCall, inst.o.now().Sub(start), err)
		return err
	}
}

// done counts one call or attempt and hands its measurement to the sinks.
func (inst *Instance) done(ctx context.Context, stage Stage, d time.Duration, err error) {
	m := Measurement{Stage: stage, Duration: d}
	if stage == StageAttempt {
		inst.attempts.Add(1)
	} else {
		inst.calls.Add(1)
	}
	if err != nil {
		m.Outcome = OutcomeFailure
		if stage == StageCall {
			m.Outcome, m.Reason = inst.failed(ctx, err)
		}
	}
	for _, r := range inst.recs {
		r.Measure(ctx, m)
	}
}

// failed classifies the error of a call and reports it.
func (inst *Instance) failed(ctx context.Context, err error) (Outcome, string) {
	if reason, shed, ok := refusal(inst.kind, err); ok {
		inst.refused(ctx, reason, err, shed)
		return OutcomeRefused, reason
	}
	inst.failures.Add(1)
	if inst.kind == KindRetry {
		var ee *retry.ExhaustedError
		if errors.As(err, &ee) {
			inst.mu.Lock()
			inst.giveUps++
			inst.mu.Unlock()
			inst.o.emit(ctx, inst, Event{Type: EventGiveUp, Reason: stopReason(ee.Reason), Attempt: ee.Attempts, Err: err})
		}
	}
	return OutcomeFailure, ""
}

// Refusal reasons. Names are a documented contract.
const (
	ReasonOpen     = "open"     // breaker open, or its probes taken
	ReasonFull     = "full"     // bulkhead full
	ReasonShed     = "shed"     // limiter refused, reason not given
	ReasonDeadline = "deadline" // limiter: not enough time left for the request
	ReasonLoop     = "loop"     // ttl: the request came back to a service on its path
	ReasonHops     = "hops"     // ttl: hop budget exhausted
	ReasonRejected = "rejected" // any other local refusal (callguard.ErrRejected)
	// A loadshed.ShedError's own reason is used as it is: limit, priority,
	// queue full, queue timeout, throttle, rate.
)

// refusal says whether err is a refusal of a policy of that kind, why, and
// whether it counts as shedding by priority.
func refusal(kind Kind, err error) (reason string, shed, ok bool) {
	switch kind {
	case KindBreaker:
		if errors.Is(err, breaker.ErrOpen) {
			return ReasonOpen, false, true
		}
	case KindBulkhead:
		if errors.Is(err, bulkhead.ErrFull) {
			return ReasonFull, false, true
		}
	case KindTTL:
		switch {
		case errors.Is(err, ttl.ErrLoop):
			return ReasonLoop, false, true
		case errors.Is(err, ttl.ErrExhausted):
			return ReasonHops, false, true
		}
	case KindLimiter, KindThrottle, KindRateLimit:
		if errors.Is(err, loadshed.ErrDeadline) && kind == KindLimiter {
			return ReasonDeadline, false, true
		}
		var se *loadshed.ShedError
		switch {
		case errors.As(err, &se):
			return string(se.Reason), true, true
		case errors.Is(err, loadshed.ErrThrottled):
			return string(loadshed.ReasonThrottle), true, true
		case errors.Is(err, loadshed.ErrRateLimited):
			return string(loadshed.ReasonRate), true, true
		case errors.Is(err, loadshed.ErrShed):
			return ReasonShed, true, true
		}
	case KindPolicy:
		if errors.Is(err, callguard.ErrRejected) {
			return ReasonRejected, false, true
		}
	}
	return "", false, false
}

// stopReason names a retry.StopReason for events and metrics.
func stopReason(r retry.StopReason) string {
	switch r {
	case retry.StopMaxAttempts:
		return "attempts"
	case retry.StopMaxElapsed:
		return "elapsed"
	case retry.StopBudget:
		return "budget"
	case retry.StopDeadline:
		return "deadline"
	}
	return "other"
}

func kindOf(p callguard.Policy) Kind {
	switch p.(type) {
	case *breaker.Breaker:
		return KindBreaker
	case *retry.Retry:
		return KindRetry
	case *bulkhead.Bulkhead:
		return KindBulkhead
	case *timeout.Timeout:
		return KindTimeout
	case *hedge.Hedger:
		return KindHedge
	case *ttl.TTL, *ttl.Guard:
		return KindTTL
	case *loadshed.Limiter:
		return KindLimiter
	case *loadshed.Throttle:
		return KindThrottle
	case *loadshed.RateLimit, *loadshed.KeyedRateLimit:
		return KindRateLimit
	}
	return KindPolicy
}
