package observe_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/callguard/callguard/callguardtest"
	"github.com/callguard/callguard/observe"
	"github.com/callguard/callguard/probe"
)

// probed returns an Observer with a recorder sink and a log buffer, after
// two runs of a prober named checkout: one that succeeds (id run-1) and
// one that fails at step buy (id run-2).
func probed(t *testing.T) (*observe.Observer, *recorder, *bytes.Buffer) {
	t.Helper()
	clk := callguardtest.NewClock()
	rec := &recorder{}
	var logs bytes.Buffer
	o := observe.New(observe.WithClock(clk), observe.WithSink(rec), observe.WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))))
	down := false
	ids := []string{"run-1", "run-2"}
	p := probe.New("checkout", []probe.Step{
		{Name: "browse", Do: func(context.Context) error { clk.Advance(20 * time.Millisecond); return nil }},
		{Name: "buy", Do: func(context.Context) error {
			clk.Advance(80 * time.Millisecond)
			if down {
				return errDown
			}
			return nil
		}},
		{Name: "receipt", Do: ok},
	}, probe.WithClock(clk), probe.WithRequestIDs(func() string { id := ids[0]; ids = ids[1:]; return id }), o.Probe("checkout"))
	p.Run(context.Background())
	down = true
	p.Run(context.Background())
	return o, rec, &logs
}

// TestProbe: a prober's runs are calls of a probe instance; a failed one
// is a failure, an EventProbe with the step and the request id, logged at
// Warn; the sinks get each run's duration; the snapshot keeps the last run
// and the last failed one, step by step.
func TestProbe(t *testing.T) {
	t.Parallel()
	o, rec, logs := probed(t)
	st := stateOf(t, o, observe.KindProbe, "checkout")
	if st.Calls != 2 || st.Failures != 1 || st.Probe == nil {
		t.Fatalf("state = %+v, want 2 calls, 1 failure and a probe section", st)
	}
	last, lastFail := st.Probe.Last, st.Probe.LastFailure
	if last == nil || last.RequestID != "run-2" || last.OK || last.Duration != 100*time.Millisecond || last != lastFail {
		t.Fatalf("last run = %+v, last failure %p, want run-2, failed, 100ms, the same run", last, lastFail)
	}
	want := []observe.ProbeStep{
		{Name: "browse", Outcome: "success", Duration: 20 * time.Millisecond},
		{Name: "buy", Outcome: "failure", Duration: 80 * time.Millisecond, Err: errDown.Error()},
		{Name: "receipt", Outcome: "skipped"},
	}
	for i, s := range last.Steps {
		if s != want[i] {
			t.Errorf("step %d = %+v, want %+v", i, s, want[i])
		}
	}
	evs := rec.of(observe.EventProbe)
	if len(evs) != 1 || evs[0].Reason != "buy" || evs[0].RequestID != "run-2" || evs[0].Err != errDown || evs[0].Kind != observe.KindProbe {
		t.Errorf("probe events = %+v, want one for step buy of run-2", evs)
	}
	rec.mu.Lock()
	ms := append([]observe.Measurement(nil), rec.ms...)
	rec.mu.Unlock()
	if len(ms) != 2 || ms[0].Outcome != observe.OutcomeSuccess || ms[1].Outcome != observe.OutcomeFailure || ms[1].Duration != 100*time.Millisecond {
		t.Errorf("measurements = %+v, want a success and a failure of 100ms", ms)
	}
	var line map[string]any
	if err := json.Unmarshal(logs.Bytes(), &line); err != nil {
		t.Fatalf("log %q: %v (want one record, for the failed run)", logs.String(), err)
	}
	if line["level"] != "WARN" || line[observe.KeyEvent] != "probe" || line[observe.KeyReason] != "buy" || line[observe.KeyRequestID] != "run-2" {
		t.Errorf("log record = %v, want a Warn probe event for buy, run-2", line)
	}
}

// TestProbePage: the status page shows each prober's last run, its steps
// and request id, in HTML and JSON.
func TestProbePage(t *testing.T) {
	t.Parallel()
	o, _, _ := probed(t)
	srv := httptest.NewServer(o.Handler())
	t.Cleanup(srv.Close)
	_, html := get(t, srv.URL, "text/html")
	for _, want := range []string{`<table id="probes">`, `data-kind="probe" data-name="checkout" data-ok="false"`,
		`data-step="buy" data-outcome="failure"`, `data-step="receipt" data-outcome="skipped"`, "run-2", errDown.Error()} {
		if !strings.Contains(html, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	_, body := get(t, srv.URL+"?format=json", "")
	var s struct {
		Policies []struct {
			Kind  string
			Probe *struct {
				Last struct {
					RequestID string `json:"request_id"`
					Steps     []struct{ Name, Outcome string }
				}
			}
		}
	}
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		t.Fatal(err)
	}
	if len(s.Policies) != 1 || s.Policies[0].Probe == nil || s.Policies[0].Probe.Last.RequestID != "run-2" || len(s.Policies[0].Probe.Last.Steps) != 3 {
		t.Errorf("JSON = %s, want the probe's last run, run-2, with 3 steps", body)
	}
}
