package breaker

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestIsFailure(t *testing.T) {
	errNotFound := errors.New("not found")
	cb := New(WithConsecutiveFailures(1), WithIsFailure(func(err error) bool {
		if errors.Is(err, context.Canceled) {
			t.Error("classifier called with an excluded error")
		}
		return !errors.Is(err, errNotFound)
	}))
	if err := cb.Do(context.Background(), func(context.Context) error { return errNotFound }); err != errNotFound {
		t.Fatalf("Do(…) = %v, want %v", err, errNotFound)
	}
	_ = cb.Do(context.Background(), func(context.Context) error { return context.Canceled })
	want := Counts{Requests: 2, TotalSuccesses: 1, TotalExclusions: 1, ConsecutiveSuccesses: 1}
	if got := cb.Counts(); got != want {
		t.Errorf("Counts() = %+v, want %+v", got, want)
	}
	_ = cb.Do(context.Background(), fail)
	if got := cb.State(); got != Open {
		t.Errorf("State() = %v, want %v", got, Open)
	}
}

func TestOnStateChange(t *testing.T) {
	var got []string
	cb := New(WithName("db"), WithConsecutiveFailures(1), WithOpenTimeout(testOpenTimeout),
		OnStateChange(func(name string, from, to State) {
			got = append(got, name+": "+from.String()+" -> "+to.String())
		}))
	trip(t, cb)
	waitState(t, cb, HalfOpen)
	_ = cb.Do(context.Background(), succeed)
	want := []string{"db: closed -> open", "db: open -> half-open", "db: half-open -> closed"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("transitions = %q, want %q", got, want)
	}
	if cb.Name() != "db" {
		t.Errorf("Name() = %q, want %q", cb.Name(), "db")
	}
}

func TestWindowForgetsOldFailures(t *testing.T) {
	cb := New(WithConsecutiveFailures(2), WithWindow(20*time.Millisecond, 10*time.Millisecond))
	_ = cb.Do(context.Background(), fail)
	deadline := time.Now().Add(10 * time.Second)
	for cb.Counts().TotalFailures != 0 { // Counts advances the window
		if time.Now().After(deadline) {
			t.Fatalf("Counts() = %+v, the failure never left the window", cb.Counts())
		}
		time.Sleep(time.Millisecond)
	}
	_ = cb.Do(context.Background(), fail)
	if got := cb.State(); got != Closed {
		t.Errorf("State() = %v, want %v: failures from different windows", got, Closed)
	}
}

func TestNewPanics(t *testing.T) {
	tests := []struct {
		name      string
		giveOpt   Option
		wantPanic string
	}{
		{"negative consecutive", WithConsecutiveFailures(-1), "breaker: consecutive failures must be >= 0, got -1"},
		{"ratio zero", WithFailureRatio(0, 20), "breaker: failure ratio must be in (0, 1], got 0"},
		{"ratio above one", WithFailureRatio(1.5, 20), "breaker: failure ratio must be in (0, 1], got 1.5"},
		{"min requests zero", WithFailureRatio(0.5, 0), "breaker: failure ratio min requests must be >= 1, got 0"},
		{"negative interval", WithWindow(-time.Second, 0), "breaker: window interval must be >= 0, got -1s"},
		{"bucket longer", WithWindow(time.Second, 2*time.Second), "breaker: window bucket 2s is longer than the interval 1s"},
		{"not a multiple", WithWindow(10*time.Second, 3*time.Second), "breaker: window interval 10s is not a multiple of the bucket 3s"},
		{"too many buckets", WithWindow(time.Second, time.Millisecond), "breaker: window has 1000 buckets, more than 100"},
		{"open timeout zero", WithOpenTimeout(0), "breaker: open timeout must be > 0, got 0s"},
		{"probes zero", WithHalfOpenProbes(0), "breaker: half-open probes must be in [1, 4294967295], got 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if r := recover(); r != tt.wantPanic {
					t.Errorf("New panicked with %v, want %q", r, tt.wantPanic)
				}
			}()
			New(tt.giveOpt)
		})
	}
}

func TestValidZeroOptions(t *testing.T) {
	New(WithConsecutiveFailures(0), WithWindow(0, 0), WithIsFailure(nil), OnStateChange(nil))
	New(WithWindow(time.Second, 0))
}
