package retry

import (
	"context"
	"errors"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/callguardtest"
)

func identity(d time.Duration) time.Duration { return d }

// A driver runs Do on another goroutine and advances a fake clock through
// every wait that Do reports to its OnRetry hook.
type driver struct {
	clk    *callguardtest.Clock
	events chan event
}

type event struct {
	attempt int
	err     error
	delay   time.Duration
}

func newDriver() *driver { return &driver{clk: callguardtest.NewClock(), events: make(chan event)} }

// options returns the options that connect a Retry to d.
func (d *driver) options() []Option {
	return []Option{WithClock(d.clk), OnRetry(func(_ context.Context, attempt int, err error, delay time.Duration) {
		d.events <- event{attempt, err, delay}
	})}
}

// do calls r.Do(ctx, fn) and returns the retries it reported and its error.
func (d *driver) do(ctx context.Context, r *Retry, fn func(context.Context) error) ([]event, error) {
	done := make(chan error, 1)
	go func() { done <- r.Do(ctx, fn) }()
	var events []event
	for {
		select {
		case err := <-done:
			return events, err
		case ev := <-d.events:
			events = append(events, ev)
			if ev.delay > 0 {
				d.clk.BlockUntil(1)
				d.clk.Advance(ev.delay)
			}
		}
	}
}

func delays(events []event) []time.Duration {
	var ds []time.Duration
	for _, ev := range events {
		ds = append(ds, ev.delay)
	}
	return ds
}

func TestDoBackoffCeilings(t *testing.T) {
	d := newDriver()
	r := New(append(d.options(), WithMaxAttempts(6), WithBackoff(10*time.Millisecond, 80*time.Millisecond), withJitter(identity))...)
	fn, _ := failing(-1, errBoom)
	events, err := d.do(context.Background(), r, fn)
	want := []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond, 80 * time.Millisecond, 80 * time.Millisecond}
	if got := delays(events); !slices.Equal(got, want) {
		t.Errorf("delays = %v, want %v", got, want)
	}
	for i, ev := range events {
		if ev.attempt != i+1 || ev.err != errBoom {
			t.Errorf("OnRetry #%d: attempt %d, err %v; want attempt %d, err %v", i, ev.attempt, ev.err, i+1, errBoom)
		}
	}
	if !errors.Is(err, ErrExhausted) {
		t.Errorf("Do(…) = %v, want ErrExhausted", err)
	}
}

func TestDoJitterBounds(t *testing.T) {
	const runs = 300
	base, maxDelay := 10*time.Millisecond, 80*time.Millisecond
	d := newDriver()
	r := New(append(d.options(), WithMaxAttempts(6), WithBackoff(base, maxDelay))...)
	fn, _ := failing(-1, errBoom)
	lo := make([]time.Duration, 5)
	hi := make([]time.Duration, 5)
	for i := range lo {
		lo[i] = math.MaxInt64
	}
	for range runs {
		events, _ := d.do(context.Background(), r, fn)
		if len(events) != 5 {
			t.Fatalf("retries = %d, want 5", len(events))
		}
		for k, ev := range events {
			ceiling := min(maxDelay, base<<k)
			if ev.delay < 0 || ev.delay > ceiling {
				t.Fatalf("delay after attempt %d = %v, want within [0, %v]", k+1, ev.delay, ceiling)
			}
			lo[k], hi[k] = min(lo[k], ev.delay), max(hi[k], ev.delay)
		}
	}
	// Full jitter spreads over the whole range: with 300 uniform samples,
	// missing either tenth has a probability of about 1e-14.
	for k := range lo {
		ceiling := min(maxDelay, base<<k)
		if lo[k] > ceiling/10 || hi[k] < ceiling-ceiling/10 {
			t.Errorf("delays after attempt %d span [%v, %v], want about [0, %v]", k+1, lo[k], hi[k], ceiling)
		}
	}
}

func TestFullJitter(t *testing.T) {
	if got := fullJitter(0); got != 0 {
		t.Errorf("fullJitter(0) = %v, want 0", got)
	}
	for range 1000 {
		if got := fullJitter(3); got < 0 || got > 3 {
			t.Fatalf("fullJitter(3) = %v, want within [0, 3]", got)
		}
	}
	if got := fullJitter(math.MaxInt64); got < 0 {
		t.Errorf("fullJitter(MaxInt64) = %v, want >= 0", got)
	}
}

func TestDoPushback(t *testing.T) {
	tests := []struct {
		name      string
		giveOpts  []Option
		giveDelay time.Duration
		wantDelay time.Duration
	}{
		{name: "honoured", giveDelay: 5 * time.Second, wantDelay: 5 * time.Second},
		{name: "capped by default", giveDelay: time.Hour, wantDelay: DefaultMaxPushback},
		{name: "capped", giveOpts: []Option{WithMaxPushback(2 * time.Second)}, giveDelay: time.Hour, wantDelay: 2 * time.Second},
		{name: "below backoff", giveDelay: time.Millisecond, wantDelay: 50 * time.Millisecond},
		{name: "ignored", giveOpts: []Option{WithMaxPushback(0)}, giveDelay: 5 * time.Second, wantDelay: 50 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDriver()
			r := New(append(append(d.options(), withJitter(identity)), tt.giveOpts...)...)
			fn, calls := failing(1, callguard.Overloaded(tt.giveDelay, errBoom))
			start := d.clk.Now()
			events, err := d.do(context.Background(), r, fn)
			if err != nil || calls.Load() != 2 {
				t.Errorf("Do(…) = %v after %d calls, want nil after 2", err, calls.Load())
			}
			if got := delays(events); !slices.Equal(got, []time.Duration{tt.wantDelay}) {
				t.Errorf("delays = %v, want [%v]", got, tt.wantDelay)
			}
			if got := d.clk.Now().Sub(start); got != tt.wantDelay {
				t.Errorf("waited %v, want %v", got, tt.wantDelay)
			}
		})
	}
}

func TestDoMaxElapsedTime(t *testing.T) {
	d := newDriver()
	r := New(append(d.options(), WithMaxAttempts(10), WithBackoff(40*time.Millisecond, time.Second),
		WithMaxElapsedTime(100*time.Millisecond), withJitter(identity))...)
	calls := 0
	// Each attempt takes 30ms: attempt 1 in [0, 30ms], wait 40ms, attempt 2
	// in [70ms, 100ms]; a wait of 80ms would start attempt 3 at 180ms.
	events, err := d.do(context.Background(), r, func(context.Context) error {
		calls++
		d.clk.Advance(30 * time.Millisecond)
		return errBoom
	})
	var ee *ExhaustedError
	if !errors.As(err, &ee) || ee.Attempts != 2 || ee.Reason != StopMaxElapsed || ee.Err != errBoom {
		t.Errorf("Do(…) = %#v, want ExhaustedError{Attempts: 2, Reason: StopMaxElapsed}", err)
	}
	if got := delays(events); !slices.Equal(got, []time.Duration{40 * time.Millisecond}) || calls != 2 {
		t.Errorf("delays = %v, calls = %d, want [40ms], 2", got, calls)
	}
}
