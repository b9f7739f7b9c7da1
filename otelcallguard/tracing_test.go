package otelcallguard_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/breaker"
	"github.com/callguard/callguard/observe"
	"github.com/callguard/callguard/otelcallguard"
	"github.com/callguard/callguard/retry"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// TestSpanEventPerRetry: one span per call, with an event for each retry
// and, once the breaker opens, one for the breaker's refusal and one for
// the give-up.
func TestSpanEventPerRetry(t *testing.T) {
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	tracer := tp.Tracer("test")

	o := observe.New(observe.WithSink(otelcallguard.Tracing()))
	p := callguard.Chain(
		o.Watch("payments", retry.New(append(o.Retry("payments"), retry.WithMaxAttempts(4), retry.WithBackoff(time.Microsecond, time.Microsecond))...)),
		o.Watch("payments", breaker.New(append(o.Breaker("payments"), breaker.WithConsecutiveFailures(3), breaker.WithOpenTimeout(time.Hour))...)),
	)
	ctx, span := tracer.Start(context.Background(), "call payments")
	err := p.Do(ctx, fail)
	span.End()
	if !errors.Is(err, breaker.ErrOpen) {
		t.Fatalf("Do = %v, want the breaker's refusal of the 4th attempt", err)
	}

	spans := sr.Ended()
	if len(spans) != 1 {
		t.Fatalf("%d spans, want 1 (the caller's)", len(spans))
	}
	var names []string
	for _, e := range spans[0].Events() {
		names = append(names, e.Name)
	}
	want := []string{"callguard.retry", "callguard.retry", "callguard.retry", "callguard.refusal"}
	if len(names) != len(want) {
		t.Fatalf("span events = %v, want %v", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Errorf("span event %d = %s, want %s (all: %v)", i, names[i], want[i], names)
		}
	}
	first := spans[0].Events()[0]
	attrs := map[string]any{}
	for _, kv := range first.Attributes {
		attrs[string(kv.Key)] = kv.Value.AsInterface()
	}
	if attrs["callguard.attempt"] != int64(1) || attrs["callguard.policy.name"] != "payments" || attrs["callguard.policy.kind"] != "retry" || attrs["exception.message"] != errDown.Error() {
		t.Errorf("first retry event attributes = %v", attrs)
	}
	refusal := spans[0].Events()[3]
	for _, kv := range refusal.Attributes {
		if kv.Key == otelcallguard.AttrReason && kv.Value.AsString() != "open" {
			t.Errorf("refusal reason = %v, want open", kv.Value.AsString())
		}
	}
}

// TestNoSpanNoEvent: without a recording span, the sink does nothing.
func TestNoSpanNoEvent(t *testing.T) {
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr), sdktrace.WithSampler(sdktrace.NeverSample()))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	o := observe.New(observe.WithSink(otelcallguard.Tracing()))
	r := o.Watch("x", retry.New(append(o.Retry("x"), retry.WithMaxAttempts(2), retry.WithBackoff(time.Microsecond, time.Microsecond))...))
	ctx, span := tp.Tracer("test").Start(context.Background(), "unsampled")
	_ = r.Do(ctx, fail)
	span.End()
	if n := len(sr.Ended()); n != 0 {
		t.Errorf("%d spans recorded, want 0", n)
	}
}
