package observe_test

import (
	"context"
	"testing"
	"time"

	"github.com/callguard/callguard/breaker"
	"github.com/callguard/callguard/callguardtest"
	"github.com/callguard/callguard/observe"
)

// TestClock: with a fake clock, durations, event times, the time of the
// last transition and the next probe are the clock's, exactly.
func TestClock(t *testing.T) {
	t.Parallel()
	clk := callguardtest.NewClock()
	rec := &recorder{}
	o := observe.New(observe.WithClock(clk), observe.WithSink(rec))
	cb := o.Watch("payments", breaker.New(append(o.Breaker("payments"),
		breaker.WithClock(clk), breaker.WithConsecutiveFailures(1), breaker.WithOpenTimeout(5*time.Second))...))
	err := cb.Do(context.Background(), func(context.Context) error {
		clk.Advance(30 * time.Millisecond)
		return errDown
	})
	if err == nil {
		t.Fatal("Do = nil, want the call's error")
	}
	opened := callguardtest.Start.Add(30 * time.Millisecond)
	clk.Advance(time.Second)

	if len(rec.ms) != 1 || rec.ms[0].Duration != 30*time.Millisecond {
		t.Errorf("measurements = %+v, want one of 30ms", rec.ms)
	}
	if tr := rec.of(observe.EventTransition); len(tr) != 1 || !tr[0].Time.Equal(opened) {
		t.Errorf("transition events = %+v, want one at %v", tr, opened)
	}
	st := stateOf(t, o, observe.KindBreaker, "payments")
	if st.Breaker == nil || !st.Breaker.Since.Equal(opened) || !st.Breaker.OpenUntil.Equal(opened.Add(5*time.Second)) {
		t.Errorf("breaker state = %+v, want open since %v until 5s later", st.Breaker, opened)
	}
}

// TestForcedOpen: a breaker forced open shows as forced-open, with no next
// probe.
func TestForcedOpen(t *testing.T) {
	t.Parallel()
	o := observe.New()
	cb := breaker.New(o.Breaker("payments")...)
	o.Watch("payments", cb)
	cb.ForceOpen()
	st := stateOf(t, o, observe.KindBreaker, "payments")
	if st.Breaker == nil || st.Breaker.State != "forced-open" || !st.Breaker.OpenUntil.IsZero() {
		t.Errorf("breaker state = %+v, want forced-open with no next probe", st.Breaker)
	}
}
