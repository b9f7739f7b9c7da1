package otelcallguard_test

import (
	"context"
	"fmt"
	"time"

	"github.com/callguard/callguard/breaker"
	"github.com/callguard/callguard/observe"
	"github.com/callguard/callguard/otelcallguard"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// Metrics of a breaker named "payments": after one failure it is open,
// and the state gauge says so.
func Example() {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	m, err := otelcallguard.NewMetrics(otelcallguard.WithMeterProvider(mp))
	if err != nil {
		panic(err)
	}
	o := observe.New(observe.WithSink(m), observe.WithSink(otelcallguard.Tracing()))
	cb := o.Watch("payments", breaker.New(append(o.Breaker("payments"),
		breaker.WithConsecutiveFailures(1), breaker.WithOpenTimeout(time.Minute))...))
	_ = cb.Do(context.Background(), func(context.Context) error { return fmt.Errorf("connection refused") })

	var rm metricdata.ResourceMetrics
	_ = reader.Collect(context.Background(), &rm)
	for _, sm := range rm.ScopeMetrics {
		for _, mt := range sm.Metrics {
			if mt.Name != otelcallguard.BreakerState {
				continue
			}
			for _, p := range mt.Data.(metricdata.Gauge[int64]).DataPoints {
				if p.Value == 1 {
					state, _ := p.Attributes.Value(otelcallguard.AttrBreakerState)
					fmt.Println(mt.Name, state.AsString())
				}
			}
		}
	}
	// Output: callguard.breaker.state open
}
