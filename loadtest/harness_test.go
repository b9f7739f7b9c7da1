package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// TestSmoke runs every setup briefly at a low and a high load and checks
// only what does not depend on timing: every request is accounted for
// once, and the table has a row for each phase. The figures are the
// harness's business, not a unit test's.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real load for a few seconds")
	}
	var rs []*result
	for _, s := range setups {
		for _, f := range []float64{0.5, 4} {
			ph := phase{setup: s, factor: f, warmup: 50 * time.Millisecond, measure: 200 * time.Millisecond}
			r := ph.run()
			interval := time.Duration(float64(time.Second) / ph.rate())
			wantAll := int((ph.warmup + ph.measure) / interval)
			wantCounted := wantAll - int((ph.warmup+interval-1)/interval)
			total, got := 0, r.timeouts+r.errs
			for i := range priorities {
				total += r.offered[i]
				got += r.ok[i] + r.shed[i] + r.refused[i]
			}
			if total != wantCounted || got != total {
				t.Errorf("%s at %g×: %d requests counted, %d outcomes; want %d of %d", s.id, f, total, got, wantCounted, wantAll)
			}
			if len(r.latencies) != r.ok[0]+r.ok[1]+r.ok[2] {
				t.Errorf("%s at %g×: %d latencies for %v successes", s.id, f, len(r.latencies), r.ok)
			}
			rs = append(rs, r)
		}
	}
	var buf bytes.Buffer
	printTable(&buf, rs)
	if lines := strings.Count(buf.String(), "×"); lines < len(rs) {
		t.Errorf("table has %d rows, want %d:\n%s", lines, len(rs), buf.String())
	}
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		give    []string
		wantErr bool
	}{
		{nil, false},
		{[]string{"-setups", "c,d", "-loads", "2", "-runs", "3", "-check"}, false},
		{[]string{"-setups", "z"}, true},
		{[]string{"-loads", "0"}, true},
		{[]string{"-duration", "0s"}, true},
	}
	for _, tt := range tests {
		_, err := parseFlags(tt.give)
		if (err != nil) != tt.wantErr {
			t.Errorf("parseFlags(%q) = %v, want error %v", tt.give, err, tt.wantErr)
		}
	}
}
