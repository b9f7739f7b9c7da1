package observe

import (
	"context"
	"time"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/probe"
)

// KindProbe is the kind of a prober ([probe.Prober]) named by
// [Observer.Probe]. Names are a documented contract.
const KindProbe Kind = "probe"

// EventProbe: a prober's run failed at step Reason with Err; RequestID is
// the run's, under which the logs of every service it reached join.
const EventProbe EventType = "probe"

// ProbeState is the state of a prober: its last run and its last failed
// run. The instance's Calls count its runs, Failures the failed ones.
type ProbeState struct {
	Last        *ProbeRun `json:"last,omitempty"`
	LastFailure *ProbeRun `json:"last_failure,omitempty"`
}

// A ProbeRun is one run of a prober, as [probe.Result] has it.
type ProbeRun struct {
	Time      time.Time     `json:"time"`
	RequestID string        `json:"request_id"`
	Duration  time.Duration `json:"duration"`
	OK        bool          `json:"ok"`
	Steps     []ProbeStep   `json:"steps"`
}

// A ProbeStep is one step of a [ProbeRun].
type ProbeStep struct {
	Name     string        `json:"name"`
	Outcome  string        `json:"outcome"` // success, failure or skipped
	Duration time.Duration `json:"duration"`
	Err      string        `json:"error,omitempty"`
}

// Probe returns the option that reports a prober's runs:
// probe.New("checkout", steps, o.Probe("checkout")). It adds a
// [probe.OnResult] hook, beside any of your own. Each run counts as a call
// of the instance (a failed one as a failure), its duration goes to the
// sinks as a [StageCall] measurement, a failed run is an [EventProbe]
// (logged at Warn), and snapshots and the status page show the last run
// and the last failed one, step by step, with their request ids.
func (o *Observer) Probe(name string) probe.Option {
	inst := o.instance(KindProbe, name)
	return probe.OnResult(inst.probed)
}

// probed records the result of a prober's run.
func (inst *Instance) probed(r probe.Result) {
	run := &ProbeRun{Time: r.Start, RequestID: r.RequestID, Duration: r.Duration, OK: r.OK(), Steps: make([]ProbeStep, len(r.Steps))}
	var failed probe.StepResult
	for i, s := range r.Steps {
		st := ProbeStep{Name: s.Name, Outcome: OutcomeSuccess.String(), Duration: s.Duration}
		switch {
		case s.Skipped:
			st.Outcome = "skipped"
		case s.Err != nil:
			st.Outcome, st.Err, failed = OutcomeFailure.String(), s.Err.Error(), s
		}
		run.Steps[i] = st
	}
	inst.calls.Add(1)
	m := Measurement{Stage: StageCall, Duration: r.Duration}
	inst.mu.Lock()
	inst.probe.Last = run
	if !run.OK {
		inst.probe.LastFailure = run
	}
	inst.mu.Unlock()
	ctx := context.Background()
	if !run.OK {
		inst.failures.Add(1)
		m.Outcome = OutcomeFailure
		ctx = callguard.ContextWithRequestID(ctx, r.RequestID)
		inst.o.emit(ctx, inst, Event{Type: EventProbe, Reason: failed.Name, Err: failed.Err})
	}
	for _, rec := range inst.recs {
		rec.Measure(ctx, m)
	}
}
