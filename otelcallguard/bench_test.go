package otelcallguard_test

import (
	"context"
	"testing"

	"github.com/callguard/callguard/breaker"
	"github.com/callguard/callguard/bulkhead"
	"github.com/callguard/callguard/internal/race"
	"github.com/callguard/callguard/observe"
	"github.com/callguard/callguard/otelcallguard"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

func metricsObserver(tb testing.TB) *observe.Observer {
	tb.Helper()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	tb.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	m, err := otelcallguard.NewMetrics(otelcallguard.WithMeterProvider(mp))
	if err != nil {
		tb.Fatal(err)
	}
	return observe.New(observe.WithSink(m), observe.WithSink(otelcallguard.Tracing()))
}

// BenchmarkDo is the success path of a breaker and of a bulkhead: bare,
// watched with no sink, and watched with OTel metrics and tracing sinks
// (an SDK MeterProvider with a reader, no span in the context). The
// difference is the cost of metrics per call.
func BenchmarkDo(b *testing.B) {
	ctx := context.Background()
	b.Run("breaker/bare", func(b *testing.B) {
		cb := breaker.New()
		b.ReportAllocs()
		for b.Loop() {
			_ = cb.Do(ctx, ok)
		}
	})
	b.Run("breaker/watched", func(b *testing.B) {
		o := observe.New()
		cb := o.Watch("b", breaker.New(o.Breaker("b")...))
		b.ReportAllocs()
		for b.Loop() {
			_ = cb.Do(ctx, ok)
		}
	})
	b.Run("breaker/otel", func(b *testing.B) {
		o := metricsObserver(b)
		cb := o.Watch("b", breaker.New(o.Breaker("b")...))
		b.ReportAllocs()
		for b.Loop() {
			_ = cb.Do(ctx, ok)
		}
	})
	b.Run("bulkhead/parallel/bare", func(b *testing.B) {
		bh := bulkhead.New(1 << 20)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_ = bh.Do(ctx, ok)
			}
		})
	})
	b.Run("bulkhead/parallel/otel", func(b *testing.B) {
		o := metricsObserver(b)
		bh := o.Watch("b", bulkhead.New(1<<20))
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_ = bh.Do(ctx, ok)
			}
		})
	})
}

// TestMetricsAllocs guards the success path with metrics and tracing on:
// the attribute sets are bound once, so a call allocates nothing.
func TestMetricsAllocs(t *testing.T) {
	if testing.Short() || race.Enabled {
		t.Skip("allocation counts are not meaningful under -race or -short")
	}
	o := metricsObserver(t)
	cb := o.Watch("b", breaker.New(o.Breaker("b")...))
	ctx := context.Background()
	if n := testing.AllocsPerRun(100, func() { _ = cb.Do(ctx, ok) }); n != 0 {
		t.Errorf("Do with metrics allocs = %v, want 0", n)
	}
}
