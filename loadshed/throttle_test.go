package loadshed

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/callguardtest"
)

func TestNewThrottlePanics(t *testing.T) {
	tests := []struct {
		name      string
		giveOpts  []ThrottleOption
		wantPanic string
	}{
		{"k", []ThrottleOption{WithK(0.5)}, "loadshed: throttle K must be >= 1, got 0.5"},
		{"window", []ThrottleOption{WithWindow(10)}, "loadshed: throttle window must be >= 20ns, got 10ns"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if got := recover(); got != tt.wantPanic {
					t.Errorf("NewThrottle panic = %v, want %q", got, tt.wantPanic)
				}
			}()
			NewThrottle(tt.giveOpts...)
		})
	}
}

func TestThrottleProbability(t *testing.T) {
	clk := callguardtest.NewClock()
	draw := 0.5
	th := NewThrottle(WithClock(clk), withRand(func() float64 { return draw }))
	var allowed []bool
	for range 10 {
		ok := th.Allow(Default)
		if ok {
			th.Done(Default, false)
		}
		allowed = append(allowed, ok)
	}
	if !allowed[0] || !allowed[1] || allowed[2] || allowed[9] { // p = n/(n+1) >= 0.5 from n = 1
		t.Errorf("Allow() with no accepts = %v; want true, true (p = 0.5), then false", allowed)
	}
	if got, want := th.Probability(Default), 10.0/11; got != want {
		t.Errorf("Probability() with 10 requests, 0 accepts = %v, want %v", got, want)
	}
	for range 5 {
		th.Done(Default, true)
	}
	if got, want := th.Probability(Default), 5.0/16; got != want {
		t.Errorf("Probability() with 15 requests, 5 accepts = %v, want %v", got, want)
	}
	for range 5 {
		th.Done(Default, true)
	}
	if got := th.Probability(Default); got != 0 {
		t.Errorf("Probability() with 20 requests, 10 accepts = %v, want 0", got)
	}
	clk.Advance(DefaultThrottleWindow)
	if r, a := th.Counts(Default); r != 0 || a != 0 {
		t.Errorf("Counts() a window later = %d, %d; want 0, 0", r, a)
	}
}

func TestThrottleDo(t *testing.T) {
	draw := 0.99
	th := NewThrottle(withRand(func() float64 { return draw }))
	if err := th.Do(bg, ok); err != nil {
		t.Fatalf("Do(…) = %v, want nil", err)
	}
	overloaded := callguard.Overloaded(0, errors.New("503"))
	for range 5 {
		if err := th.Do(bg, func(context.Context) error { return overloaded }); err != overloaded {
			t.Fatalf("Do(…) = %v, want %v", err, overloaded)
		}
	}
	draw = 0
	err := th.Do(bg, func(context.Context) error {
		t.Error("fn called while throttled")
		return nil
	})
	if err != ErrThrottled {
		t.Fatalf("Do(…) = %v, want %v", err, ErrThrottled)
	}
	for _, target := range []error{ErrShed, callguard.ErrOverloaded, callguard.ErrRejected} {
		if !errors.Is(err, target) {
			t.Errorf("errors.Is(ErrThrottled, %v) = false", target)
		}
	}
	if callguard.Retryable(err) {
		t.Error("Retryable(ErrThrottled) = true")
	}
	if r, a := th.Counts(Default); r != 7 || a != 1 {
		t.Errorf("Counts() = %d, %d; want 7, 1", r, a)
	}
	ctx, cancel := context.WithCancel(bg)
	cancel()
	if err := th.Do(ctx, ok); !errors.Is(err, context.Canceled) {
		t.Errorf("Do(canceled) = %v, want %v", err, context.Canceled)
	}
}

// TestThrottleInFlight checks that calls still in flight do not count as
// refused: a second call that starts while the first is running is let
// through, however unlucky the draw.
func TestThrottleInFlight(t *testing.T) {
	t.Parallel()
	th := NewThrottle(withRand(func() float64 { return 0 })) // rejects whenever p > 0
	started, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- th.Do(bg, func(context.Context) error {
			close(started)
			<-release
			return nil
		})
	}()
	<-started
	if err := th.Do(bg, ok); err != nil {
		t.Errorf("Do() while another call is in flight = %v, want nil", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Errorf("first Do() = %v, want nil", err)
	}
	if r, a := th.Counts(Default); r != 2 || a != 2 {
		t.Errorf("Counts() = %d, %d; want 2, 2", r, a)
	}
}

// TestThrottleIgnoresLocalRefusals checks that a call refused by an inner
// policy (an open breaker), which never reached the backend, counts as
// neither a request nor an accept; that a refusal the backend passed on
// from below counts as an accept (the backend answered it); and that the
// backend's own refusals count as refusals.
func TestThrottleIgnoresLocalRefusals(t *testing.T) {
	t.Parallel()
	th := NewThrottle(withRand(func() float64 { return 0 }))
	open := callguard.NewRejection("breaker: open")
	for range 10 {
		if err := th.Do(bg, func(context.Context) error { return open }); err != open {
			t.Fatalf("Do() = %v, want %v", err, open)
		}
	}
	if r, a := th.Counts(Default); r != 0 || a != 0 {
		t.Errorf("Counts() after 10 local refusals = %d, %d; want 0, 0", r, a)
	}
	down := depDown{callguard.Overloaded(0, errors.New("503: payments unavailable"))}
	if err := th.Do(bg, func(context.Context) error { return down }); err != down {
		t.Fatalf("Do() = %v, want %v", err, down)
	}
	if r, a := th.Counts(Default); r != 1 || a != 1 {
		t.Errorf("Counts() after a refusal passed on from below = %d, %d; want 1, 1 (the backend answered it)", r, a)
	}
	shed := callguard.Overloaded(0, errors.New("503"))
	if err := th.Do(bg, func(context.Context) error { return shed }); err != shed {
		t.Fatalf("Do() = %v, want %v", err, shed)
	}
	if r, a := th.Counts(Default); r != 2 || a != 1 {
		t.Errorf("Counts() after a refusal by the backend = %d, %d; want 2, 1", r, a)
	}
}

// depDown is a backend's refusal that names a dependency of the backend
// that is down, as package route's UnavailableError does.
type depDown struct{ error }

func (e depDown) Unwrap() error        { return e.error }
func (e depDown) Is(target error) bool { return target == callguard.ErrDownstream }

// errBackendShed is a backend's refusal as the adapters return it: an
// overloaded error, which ErrShed is not (ErrShed is a local refusal, that
// never reached the backend).
var errBackendShed = callguard.Overloaded(0, errors.New("503 Service Unavailable"))

// TestThrottleRecovers offers 100 calls per second to a backend that
// rejects everything for a minute and then heals, and measures the share
// of calls that reach it while it rejects and the time until no call is
// throttled any more.
func TestThrottleRecovers(t *testing.T) {
	for _, window := range []time.Duration{DefaultThrottleWindow, 2 * time.Minute} {
		clk := callguardtest.NewClock()
		rng := rand.New(rand.NewPCG(1, 2))
		th := NewThrottle(WithClock(clk), withRand(rng.Float64), WithWindow(window))
		const step = 10 * time.Millisecond // 100 calls per second
		healthy := false
		backend := func(context.Context) error {
			if healthy {
				return nil
			}
			return errBackendShed
		}
		sent, calls := 0, 0
		count := func(context.Context) error { sent++; return backend(bg) }
		outage := window + time.Minute
		for elapsed := time.Duration(0); elapsed < outage; elapsed += step {
			if elapsed >= window { // steady state
				calls++
				_ = th.Do(bg, count)
			} else {
				_ = th.Do(bg, backend)
			}
			clk.Advance(step)
		}
		share := float64(sent) / float64(calls)
		healthy = true
		var half, most, recovered time.Duration // to p < 0.5, p < 0.1, p = 0
		for elapsed := time.Duration(0); recovered == 0 && elapsed < 10*window; elapsed += step {
			_ = th.Do(bg, backend)
			clk.Advance(step)
			switch p := th.Probability(Default); {
			case p == 0:
				recovered = elapsed + step
			case p < 0.1 && most == 0:
				most = elapsed + step
			case p < 0.5 && half == 0:
				half = elapsed + step
			}
		}
		t.Logf("window %v, backend rejecting all: %d of %d calls (%.2f%%) reach it in its last minute; "+
			"healed: half the calls pass after %v, 90%% after %v, all after %v",
			window, sent, calls, 100*share, half, most, recovered)
		if share > 0.01 {
			t.Errorf("window %v: %.2f%% of calls reached a backend that rejects all, want <= 1%%", window, 100*share)
		}
		if recovered > 6*window {
			t.Errorf("window %v: recovered after %v, want <= %v", window, recovered, 6*window)
		}
	}
}

// TestThrottlePriorities checks that each priority has its own counts: a
// backend that refuses sheddable calls and serves critical ones gets every
// critical call, and few sheddable ones.
func TestThrottlePriorities(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	th := NewThrottle(WithClock(callguardtest.NewClock()), withRand(rng.Float64))
	crit, shed := NewContext(bg, Critical), NewContext(bg, Sheddable)
	sent := map[Priority]int{}
	backend := func(p Priority) func(context.Context) error {
		return func(context.Context) error {
			sent[p]++
			if p == Sheddable {
				return errBackendShed
			}
			return nil
		}
	}
	const calls = 1000
	for range calls {
		_ = th.Do(crit, backend(Critical))
		_ = th.Do(shed, backend(Sheddable))
	}
	if sent[Critical] != calls {
		t.Errorf("critical calls sent = %d, want all %d", sent[Critical], calls)
	}
	if sent[Sheddable] > calls/20 {
		t.Errorf("sheddable calls sent = %d of %d to a backend that refuses them all, want few", sent[Sheddable], calls)
	}
	if p := th.Probability(Critical); p != 0 {
		t.Errorf("Probability(Critical) = %v, want 0", p)
	}
	if r, a := th.Counts(Sheddable); r != calls || a != 0 {
		t.Errorf("Counts(Sheddable) = %d, %d; want %d, 0", r, a, calls)
	}
}
