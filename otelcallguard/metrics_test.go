package otelcallguard_test

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/callguard/callguard/observe"
	"github.com/callguard/callguard/otelcallguard"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

func collect(t *testing.T) (*observe.Observer, metricdata.ResourceMetrics) {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	m, err := otelcallguard.NewMetrics(otelcallguard.WithMeterProvider(mp))
	if err != nil {
		t.Fatalf("NewMetrics: %v", err)
	}
	o := observe.New(observe.WithSink(m))
	exercise(t, o)
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatalf("Collect: %v", err)
	}
	return o, rm
}

// describe lists each instrument as "name unit type attribute-keys".
func describe(rm metricdata.ResourceMetrics) []string {
	var out []string
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			keys := map[string]bool{}
			var typ string
			addKeys := func(set attribute.Set) {
				for _, kv := range set.ToSlice() {
					keys[string(kv.Key)] = true
				}
			}
			switch d := m.Data.(type) {
			case metricdata.Histogram[float64]:
				typ = "histogram"
				for _, p := range d.DataPoints {
					addKeys(p.Attributes)
				}
			case metricdata.Sum[int64]:
				typ = "counter"
				if !d.IsMonotonic {
					typ = "updowncounter"
				}
				for _, p := range d.DataPoints {
					addKeys(p.Attributes)
				}
			case metricdata.Gauge[int64]:
				typ = "gauge"
				for _, p := range d.DataPoints {
					addKeys(p.Attributes)
				}
			case metricdata.Gauge[float64]:
				typ = "gauge"
				for _, p := range d.DataPoints {
					addKeys(p.Attributes)
				}
			default:
				typ = fmt.Sprintf("%T", d)
			}
			var ks []string
			for k := range keys {
				ks = append(ks, k)
			}
			sort.Strings(ks)
			unit := m.Unit
			if unit == "" {
				unit = "-"
			}
			out = append(out, fmt.Sprintf("%s %s %s %s", m.Name, unit, typ, strings.Join(ks, ",")))
		}
	}
	sort.Strings(out)
	return out
}

// TestMetricNamesGolden pins every instrument's name, unit, type and
// attribute keys: a change fails here until testdata/metrics.txt changes.
func TestMetricNamesGolden(t *testing.T) {
	_, rm := collect(t)
	got := strings.Join(describe(rm), "\n") + "\n"
	const file = "testdata/metrics.txt"
	if os.Getenv("UPDATE_GOLDEN") != "" {
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("instruments changed; update %s (UPDATE_GOLDEN=1 go test -run Golden), the package doc and the README.\ngot:\n%s\nwant:\n%s", file, got, want)
	}
}

// point finds the data point of the named instrument whose attributes
// include all of want, and returns its value as a float.
func point(t *testing.T, rm metricdata.ResourceMetrics, name string, want ...attribute.KeyValue) float64 {
	t.Helper()
	match := func(set attribute.Set) bool {
		for _, kv := range want {
			if v, ok := set.Value(kv.Key); !ok || v != kv.Value {
				return false
			}
		}
		return true
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					if match(p.Attributes) {
						return float64(p.Value)
					}
				}
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					if match(p.Attributes) {
						return float64(p.Value)
					}
				}
			case metricdata.Gauge[float64]:
				for _, p := range d.DataPoints {
					if match(p.Attributes) {
						return p.Value
					}
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					if match(p.Attributes) {
						return float64(p.Count)
					}
				}
			}
		}
	}
	t.Errorf("no point of %s with %v", name, want)
	return -1
}

func TestMetricValues(t *testing.T) {
	o, rm := collect(t)
	name := otelcallguard.AttrName.String
	budget := o.Snapshot()
	var tokens float64
	for _, st := range budget.Policies {
		if st.Budget != nil {
			tokens = st.Budget.Tokens
		}
	}
	tests := []struct {
		metric string
		attrs  []attribute.KeyValue
		want   float64
	}{
		{otelcallguard.BreakerState, []attribute.KeyValue{name("payments"), otelcallguard.AttrBreakerState.String("open")}, 1},
		{otelcallguard.BreakerState, []attribute.KeyValue{name("payments"), otelcallguard.AttrBreakerState.String("closed")}, 0},
		{otelcallguard.BreakerTransitions, []attribute.KeyValue{name("payments"), otelcallguard.AttrBreakerState.String("open")}, 1},
		// 3 attempts: 2 failures open the breaker, which refuses the third.
		{otelcallguard.RetryAttempts, []attribute.KeyValue{name("payments"), otelcallguard.AttrOutcome.String("failure")}, 3},
		{otelcallguard.Refusals, []attribute.KeyValue{otelcallguard.AttrKind.String("breaker"), otelcallguard.AttrReason.String("open")}, 1},
		{otelcallguard.Refusals, []attribute.KeyValue{otelcallguard.AttrKind.String("bulkhead"), otelcallguard.AttrReason.String("full")}, 1},
		{otelcallguard.LoadshedShed, []attribute.KeyValue{name("api"), otelcallguard.AttrPriority.String("sheddable")}, 1},
		{otelcallguard.LoadshedLimit, []attribute.KeyValue{name("api")}, 1},
		{otelcallguard.BulkheadInFlight, []attribute.KeyValue{name("db")}, 1},
		{otelcallguard.BulkheadLimit, []attribute.KeyValue{name("db")}, 1},
		{otelcallguard.RetryBudgetTokens, []attribute.KeyValue{name("payments")}, tokens},
		{otelcallguard.CallDuration, []attribute.KeyValue{otelcallguard.AttrKind.String("retry"), otelcallguard.AttrOutcome.String("failure")}, 1},
		{otelcallguard.CallDuration, []attribute.KeyValue{otelcallguard.AttrKind.String("breaker"), otelcallguard.AttrOutcome.String("refused")}, 1},
		{otelcallguard.AttemptDuration, []attribute.KeyValue{otelcallguard.AttrKind.String("retry")}, 3},
		{otelcallguard.HedgeAttempts, []attribute.KeyValue{name("search"), otelcallguard.AttrOutcome.String("success")}, 1},
	}
	if tokens <= 0 || tokens >= 10 {
		t.Errorf("budget tokens = %v, want fewer than the 10 it started with, since retries took some", tokens)
	}
	for _, tt := range tests {
		if got := point(t, rm, tt.metric, tt.attrs...); got != tt.want {
			t.Errorf("%s%v = %v, want %v", tt.metric, tt.attrs, got, tt.want)
		}
	}
}
