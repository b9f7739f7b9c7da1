package otelcallguard

import (
	"context"

	"github.com/callguard/callguard/observe"
	"go.opentelemetry.io/otel/metric"
)

// observeState creates the asynchronous instruments and registers the one
// callback that reads every bound instance's state at collection time.
func (m *Metrics) observeState(meter metric.Meter) error {
	state, err := meter.Int64ObservableGauge(BreakerState,
		metric.WithDescription("1 for the circuit breaker's current state, 0 for the others."))
	if err != nil {
		return joinErr(nil, err)
	}
	tokens, err := meter.Float64ObservableGauge(RetryBudgetTokens, metric.WithUnit("{token}"),
		metric.WithDescription("Retry tokens left in a retry budget."))
	if err != nil {
		return joinErr(nil, err)
	}
	bhIn, err := meter.Int64ObservableUpDownCounter(BulkheadInFlight, metric.WithUnit("{call}"),
		metric.WithDescription("Calls holding a slot of a bulkhead."))
	if err != nil {
		return joinErr(nil, err)
	}
	bhLimit, err := meter.Int64ObservableGauge(BulkheadLimit, metric.WithUnit("{call}"),
		metric.WithDescription("Slots of a bulkhead."))
	if err != nil {
		return joinErr(nil, err)
	}
	limit, err := meter.Int64ObservableGauge(LoadshedLimit, metric.WithUnit("{request}"),
		metric.WithDescription("Concurrency limit of an adaptive limiter."))
	if err != nil {
		return joinErr(nil, err)
	}
	inFlight, err := meter.Int64ObservableUpDownCounter(LoadshedInFlight, metric.WithUnit("{request}"),
		metric.WithDescription("Requests holding a slot of an adaptive limiter."))
	if err != nil {
		return joinErr(nil, err)
	}
	m.reg, err = meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		m.mu.Lock()
		insts := append([]*observe.Instance(nil), m.insts...)
		m.mu.Unlock()
		for _, inst := range insts {
			st := inst.State()
			name := metric.WithAttributes(AttrName.String(inst.Name()))
			switch {
			case st.Breaker != nil:
				for _, s := range breakerStates {
					v := int64(0)
					if s == st.Breaker.State {
						v = 1
					}
					o.ObserveInt64(state, v, metric.WithAttributes(AttrName.String(inst.Name()), AttrBreakerState.String(s)))
				}
			case st.Budget != nil:
				o.ObserveFloat64(tokens, st.Budget.Tokens, name)
			case st.Bulkhead != nil:
				o.ObserveInt64(bhIn, int64(st.Bulkhead.InFlight), name)
				o.ObserveInt64(bhLimit, int64(st.Bulkhead.Limit), name)
			case st.Limiter != nil:
				o.ObserveInt64(limit, int64(st.Limiter.Limit), name)
				o.ObserveInt64(inFlight, int64(st.Limiter.InFlight), name)
			}
		}
		return nil
	}, state, tokens, bhIn, bhLimit, limit, inFlight)
	return joinErr(nil, err)
}
