// Package otelcallguard reports what callguard's policies do to
// OpenTelemetry: metrics ([NewMetrics]) and span events on the caller's
// span ([Tracing]). Both are sinks of an observe.Observer:
//
//	m, err := otelcallguard.NewMetrics() // the global MeterProvider
//	if err != nil { ... }
//	o := observe.New(observe.WithSink(m), observe.WithSink(otelcallguard.Tracing()))
//	cb := o.Watch("payments", breaker.New(o.Breaker("payments")...))
//
// It lives in a module of its own, so that the callguard module does not
// depend on OpenTelemetry.
//
// # Instruments
//
// The names, units and attributes are a contract, listed in
// testdata/metrics.txt; a test fails when one changes without the list.
//
//	callguard.call.duration         histogram, s        kind, name, outcome
//	callguard.attempt.duration      histogram, s        kind, name, outcome (retry and hedge)
//	callguard.retry.attempts        counter, {attempt}  name, outcome
//	callguard.hedge.attempts        counter, {attempt}  name, outcome
//	callguard.retry.budget.tokens   gauge, {token}      name
//	callguard.breaker.state         gauge, 1 for the current state, 0 for the others: name, breaker.state
//	callguard.breaker.transitions   counter             name, breaker.state (the new one)
//	callguard.bulkhead.in_flight    updown counter      name
//	callguard.bulkhead.limit        gauge               name
//	callguard.loadshed.limit        gauge, {request}    name
//	callguard.loadshed.in_flight    updown counter      name
//	callguard.loadshed.shed         counter, {request}  kind, name, priority
//	callguard.refusals              counter, {call}     kind, name, reason
//
// Attribute keys are callguard.policy.kind, callguard.policy.name,
// callguard.outcome, callguard.reason, callguard.priority and
// callguard.breaker.state; their values are observe's names (kinds, reasons,
// outcomes, breaker states). The Prometheus exporter turns the dots into
// underscores and adds unit and _total suffixes:
// callguard_call_duration_seconds, callguard_refusals_total, ...
//
// # Why these names
//
// OpenTelemetry's rules: a namespace of our own (callguard.), dotted
// lower-case words, the unit in the instrument's unit and not in its name,
// no _total (the exporter adds it), UpDownCounters for what is in flight,
// and low-cardinality attributes (no request ids, which go to logs and span
// events). Polly v8 names one family per event (resilience.polly.strategy.events
// with event.name, pipeline.name, strategy.name attributes, and
// resilience.polly.strategy.attempt.duration); resilience4j one family per
// policy type and measure (resilience4j.circuitbreaker.state with a state tag,
// resilience4j.retry.calls with a kind tag, resilience4j.bulkhead.available.concurrent.calls).
// We follow resilience4j's shape, a family per policy and measure, because
// an operator queries "which breakers are open" or "what is the limit" and
// a family per question keeps those queries short; and Polly's attempt and
// call durations as histograms with an outcome attribute, which
// resilience4j does not have. The state gauge is resilience4j's: one series
// per state, 1 for the current one, so that
// callguard_breaker_state{callguard_breaker_state="open"} == 1 lists the
// open breakers.
//
// # Tracing
//
// [Tracing] adds an event to the caller's span for each retry
// (callguard.retry, with the attempt and the delay), hedge
// (callguard.hedge), refusal
// (callguard.refusal, with the reason) and give-up (callguard.giveup), when
// that span is recording. It composes with otelhttp and otelgrpc: their
// spans are the caller's span. Breaker transitions and limit changes belong
// to no request and are not span events; they are metrics and logs.
package otelcallguard
