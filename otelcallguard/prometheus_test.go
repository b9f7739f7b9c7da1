package otelcallguard_test

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/callguard/callguard/observe"
	"github.com/callguard/callguard/otelcallguard"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// TestPrometheusExposition reads /metrics, as served through OTel's
// Prometheus exporter by a real HTTP server, with Prometheus's own text
// parser: the breaker state family is there, with one series per state.
func TestPrometheusExposition(t *testing.T) {
	reg := prometheus.NewRegistry()
	exp, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		t.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
	defer func() { _ = mp.Shutdown(context.Background()) }()
	m, err := otelcallguard.NewMetrics(otelcallguard.WithMeterProvider(mp))
	if err != nil {
		t.Fatal(err)
	}
	o := observe.New(observe.WithSink(m))
	exercise(t, o)

	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	state := families["callguard_breaker_state"]
	if state == nil {
		var names []string
		for n := range families {
			names = append(names, n)
		}
		t.Fatalf("no callguard_breaker_state family; have %v", names)
	}
	open := 0.0
	for _, mt := range state.GetMetric() {
		labels := map[string]string{}
		for _, l := range mt.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["callguard_policy_name"] == "payments" && labels["callguard_breaker_state"] == "open" {
			open = mt.GetGauge().GetValue()
		}
	}
	if open != 1 {
		t.Errorf(`callguard_breaker_state{callguard_policy_name="payments",callguard_breaker_state="open"} = %v, want 1`, open)
	}
	for _, name := range []string{"callguard_refusals_total", "callguard_call_duration_seconds", "callguard_loadshed_shed_total", "callguard_retry_attempts_total", "callguard_loadshed_limit"} {
		if families[name] == nil {
			t.Errorf("no %s family", name)
		}
	}
}
