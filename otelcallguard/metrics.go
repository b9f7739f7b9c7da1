package otelcallguard

import (
	"context"
	"fmt"
	"sync"

	"github.com/callguard/callguard/observe"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// ScopeName is the instrumentation scope of the meter and tracer.
const ScopeName = "github.com/callguard/callguard/otelcallguard"

// The instrument names. They are a contract: see the package doc.
const (
	CallDuration       = "callguard.call.duration"
	AttemptDuration    = "callguard.attempt.duration"
	RetryAttempts      = "callguard.retry.attempts"
	HedgeAttempts      = "callguard.hedge.attempts"
	RetryBudgetTokens  = "callguard.retry.budget.tokens"
	BreakerState       = "callguard.breaker.state"
	BreakerTransitions = "callguard.breaker.transitions"
	BulkheadInFlight   = "callguard.bulkhead.in_flight"
	BulkheadLimit      = "callguard.bulkhead.limit"
	LoadshedLimit      = "callguard.loadshed.limit"
	LoadshedInFlight   = "callguard.loadshed.in_flight"
	LoadshedShed       = "callguard.loadshed.shed"
	Refusals           = "callguard.refusals"
)

// The attribute keys.
const (
	AttrKind         = attribute.Key("callguard.policy.kind")
	AttrName         = attribute.Key("callguard.policy.name")
	AttrOutcome      = attribute.Key("callguard.outcome")
	AttrReason       = attribute.Key("callguard.reason")
	AttrPriority     = attribute.Key("callguard.priority")
	AttrBreakerState = attribute.Key("callguard.breaker.state")
)

// breakerStates are the values of the breaker state gauge's attribute.
var breakerStates = []string{"closed", "half-open", "open", "forced-open", "disabled"}

// An Option configures [NewMetrics].
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct{ mp metric.MeterProvider }

// WithMeterProvider sets the MeterProvider. The default, and nil, is the
// global one (otel.GetMeterProvider).
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c *config) { c.mp = mp })
}

// Metrics is an observe.Sink that records OpenTelemetry metrics. Make one
// with [NewMetrics] and give it to observe.New with observe.WithSink. It is
// safe for concurrent use.
type Metrics struct {
	callDur, attemptDur                   metric.Float64Histogram
	attempts, transitions, shed, refusals metric.Int64Counter
	hedgeAttempts                         metric.Int64Counter
	reg                                   metric.Registration

	mu    sync.Mutex
	insts []*observe.Instance // bound instances, read by the gauges' callback
}

// NewMetrics creates the instruments on a meter of the MeterProvider and
// returns the sink that records them. It fails only if the SDK refuses an
// instrument.
func NewMetrics(opts ...Option) (*Metrics, error) {
	c := config{}
	for _, opt := range opts {
		opt.apply(&c)
	}
	if c.mp == nil {
		c.mp = otel.GetMeterProvider()
	}
	meter := c.mp.Meter(ScopeName)
	m := &Metrics{}
	var err error
	hist := func(name, desc string) metric.Float64Histogram {
		h, e := meter.Float64Histogram(name, metric.WithUnit("s"), metric.WithDescription(desc),
			metric.WithExplicitBucketBoundaries(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
		err = joinErr(err, e)
		return h
	}
	counter := func(name, unit, desc string) metric.Int64Counter {
		ctr, e := meter.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		err = joinErr(err, e)
		return ctr
	}
	m.callDur = hist(CallDuration, "Duration of calls offered to a policy, refusals included.")
	m.attemptDur = hist(AttemptDuration, "Duration of each attempt a retry policy made.")
	m.attempts = counter(RetryAttempts, "{attempt}", "Attempts made by retry policies, the first of each call included.")
	m.hedgeAttempts = counter(HedgeAttempts, "{attempt}", "Attempts made by hedging policies, the first of each call included.")
	m.transitions = counter(BreakerTransitions, "{transition}", "Changes of state of circuit breakers, by new state.")
	m.shed = counter(LoadshedShed, "{request}", "Requests shed by limiters, throttles and rate limits, by priority.")
	m.refusals = counter(Refusals, "{call}", "Calls a policy refused without running them, by reason.")
	if err != nil {
		return nil, err
	}
	if err := m.observeState(meter); err != nil {
		return nil, err
	}
	return m, nil
}

func joinErr(err, e error) error {
	if err != nil {
		return err
	}
	if e != nil {
		return fmt.Errorf("otelcallguard: %w", e)
	}
	return nil
}

// Close unregisters the callback of the state gauges. The counters and
// histograms stay with the MeterProvider.
func (m *Metrics) Close() error { return m.reg.Unregister() }

// Bind implements observe.Sink: it prepares the attribute sets of the
// instance once, so that recording a call allocates nothing.
func (m *Metrics) Bind(inst *observe.Instance) observe.Recorder {
	m.mu.Lock()
	m.insts = append(m.insts, inst)
	m.mu.Unlock()
	kind, name := AttrKind.String(string(inst.Kind())), AttrName.String(inst.Name())
	r := &recorder{m: m, kind: kind, name: name, reasons: map[string]metric.AddOption{}, attempts: m.attempts}
	if inst.Kind() == observe.KindHedge {
		r.attempts = m.hedgeAttempts
	}
	for _, o := range []observe.Outcome{observe.OutcomeSuccess, observe.OutcomeFailure, observe.OutcomeRefused} {
		set := attribute.NewSet(kind, name, AttrOutcome.String(o.String()))
		r.byOutcome[o] = []metric.RecordOption{metric.WithAttributeSet(set)}
		r.attemptsBy[o] = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(name, AttrOutcome.String(o.String())))}
	}
	return r
}

// recorder records one instance's events and measurements.
type recorder struct {
	m          *Metrics
	kind, name attribute.KeyValue
	attempts   metric.Int64Counter // the retry or hedge attempts counter
	// The options are kept as slices, so that passing them on allocates no
	// variadic slice per call.
	byOutcome  [3][]metric.RecordOption // kind, name, outcome
	attemptsBy [3][]metric.AddOption    // name, outcome

	mu      sync.Mutex
	reasons map[string]metric.AddOption // refusal counter's attributes, by reason
}

func (r *recorder) Measure(ctx context.Context, ms observe.Measurement) {
	o := ms.Outcome
	if int(o) >= len(r.byOutcome) {
		o = observe.OutcomeFailure
	}
	if ms.Stage == observe.StageAttempt {
		r.m.attemptDur.Record(ctx, ms.Duration.Seconds(), r.byOutcome[o]...)
		r.attempts.Add(ctx, 1, r.attemptsBy[o]...)
		return
	}
	r.m.callDur.Record(ctx, ms.Duration.Seconds(), r.byOutcome[o]...)
}

func (r *recorder) Event(ctx context.Context, e observe.Event) {
	switch e.Type {
	case observe.EventRefusal:
		r.m.refusals.Add(ctx, 1, r.reason(e.Reason))
		if e.Priority != "" {
			r.m.shed.Add(ctx, 1, metric.WithAttributes(r.kind, r.name, AttrPriority.String(e.Priority)))
		}
	case observe.EventTransition:
		r.m.transitions.Add(ctx, 1, metric.WithAttributes(r.name, AttrBreakerState.String(e.To)))
	}
}

func (r *recorder) reason(reason string) metric.AddOption {
	r.mu.Lock()
	defer r.mu.Unlock()
	opt, ok := r.reasons[reason]
	if !ok {
		opt = metric.WithAttributeSet(attribute.NewSet(r.kind, r.name, AttrReason.String(reason)))
		r.reasons[reason] = opt
	}
	return opt
}
