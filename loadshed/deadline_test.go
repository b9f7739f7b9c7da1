package loadshed

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/callguardtest"
)

// fakeDeadline is a context with a deadline on a fake clock.
type fakeDeadline struct {
	context.Context
	at time.Time
}

func (c fakeDeadline) Deadline() (time.Time, bool) { return c.at, true }

func TestDeadlineAdmission(t *testing.T) {
	l := New(WithMinServiceTime(time.Hour), WithFixedLimit(1))
	ctx, cancel := context.WithTimeout(bg, time.Minute)
	defer cancel()
	err := l.Do(ctx, func(context.Context) error {
		t.Error("fn called with too short a deadline")
		return nil
	})
	if err != ErrDeadline || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Do(…) = %v, want ErrDeadline matching context.DeadlineExceeded", err)
	}
	if errors.Is(err, ErrShed) || errors.Is(err, callguard.ErrOverloaded) {
		t.Errorf("ErrDeadline matches ErrShed or ErrOverloaded")
	}
	if l.DeadlineRejects() != 1 || l.Shed(Default) != 0 {
		t.Errorf("DeadlineRejects() = %d, Shed = %d; want 1, 0", l.DeadlineRejects(), l.Shed(Default))
	}
	ctx2, cancel2 := context.WithTimeout(bg, 2*time.Hour)
	defer cancel2()
	for _, ctx := range []context.Context{bg, ctx2} {
		if err := l.Do(ctx, ok); err != nil {
			t.Errorf("Do(…) with time to spare = %v, want nil", err)
		}
	}
	checkIdle(t, l)
}

func TestLearnedServiceTime(t *testing.T) {
	for _, opts := range [][]Option{nil, {WithFixedLimit(50)}} {
		clk := callguardtest.NewClock()
		l := New(append(opts, WithClock(clk), WithLearnedServiceTime())...)
		short := fakeDeadline{bg, clk.Now().Add(20 * time.Millisecond)}
		if err := l.Do(short, ok); err != nil {
			t.Errorf("Do(…) before any estimate = %v, want nil", err)
		}
		rounds(t, l, clk, time.Second, 50*time.Millisecond, Success)
		short.at = clk.Now().Add(20 * time.Millisecond)
		if err := l.Do(short, ok); err != ErrDeadline {
			t.Errorf("Do(…) with 20ms left, 50ms service = %v, want %v", err, ErrDeadline)
		}
		long := fakeDeadline{bg, clk.Now().Add(80 * time.Millisecond)}
		if err := l.Do(long, ok); err != nil {
			t.Errorf("Do(…) with 80ms left, 50ms service = %v, want nil", err)
		}
		checkIdle(t, l)
	}
}
