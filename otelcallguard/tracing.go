package otelcallguard

import (
	"context"

	"github.com/callguard/callguard/observe"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// Tracing returns an observe.Sink that adds retries, hedges, refusals and
// give-ups as events to the span of the call's context, when it is
// recording: callguard.retry (attributes callguard.policy.kind,
// callguard.policy.name, callguard.attempt, callguard.delay in seconds,
// exception.message), callguard.hedge (callguard.attempt),
// callguard.refusal (callguard.reason, callguard.priority) and
// callguard.giveup (callguard.reason, callguard.attempt). It records no
// spans of its own.
func Tracing() observe.Sink { return tracingSink{} }

type tracingSink struct{}

func (tracingSink) Bind(inst *observe.Instance) observe.Recorder {
	return spanRecorder{
		kind: AttrKind.String(string(inst.Kind())),
		name: AttrName.String(inst.Name()),
	}
}

type spanRecorder struct{ kind, name attribute.KeyValue }

// The span event attribute keys beyond those of the metrics.
const (
	AttrAttempt = attribute.Key("callguard.attempt")
	AttrDelay   = attribute.Key("callguard.delay")
	attrError   = attribute.Key("exception.message")
)

func (r spanRecorder) Event(ctx context.Context, e observe.Event) {
	if e.Type != observe.EventRetry && e.Type != observe.EventRefusal && e.Type != observe.EventGiveUp && e.Type != observe.EventHedge {
		return
	}
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	attrs := make([]attribute.KeyValue, 0, 6)
	attrs = append(attrs, r.kind, r.name)
	switch e.Type {
	case observe.EventRetry:
		attrs = append(attrs, AttrAttempt.Int(e.Attempt), AttrDelay.Float64(e.Delay.Seconds()))
	case observe.EventHedge:
		attrs = append(attrs, AttrAttempt.Int(e.Attempt))
	case observe.EventRefusal:
		attrs = append(attrs, AttrReason.String(e.Reason))
		if e.Priority != "" {
			attrs = append(attrs, AttrPriority.String(e.Priority))
		}
	case observe.EventGiveUp:
		attrs = append(attrs, AttrReason.String(e.Reason), AttrAttempt.Int(e.Attempt))
	}
	if e.Err != nil {
		attrs = append(attrs, attrError.String(e.Err.Error()))
	}
	span.AddEvent("callguard."+string(e.Type), trace.WithAttributes(attrs...))
}

func (spanRecorder) Measure(context.Context, observe.Measurement) {}
