package callguard_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/internal/race"
)

// gaveUp is a retry policy's error that declares itself exhausted, as
// retry.ExhaustedError does.
type gaveUp struct{ exhausted bool }

func (e gaveUp) Error() string   { return "gave up" }
func (e gaveUp) Exhausted() bool { return e.exhausted }

func TestIsExhausted(t *testing.T) {
	tests := []struct {
		give error
		want bool
	}{
		{nil, false},
		{errors.New("x"), false},
		{gaveUp{true}, true},
		{gaveUp{false}, false},
		{fmt.Errorf("w: %w", gaveUp{true}), true},
		{errors.Join(errors.New("a"), gaveUp{true}), true},
		{callguard.Permanent(gaveUp{true}), true},
	}
	for _, tt := range tests {
		if got := callguard.IsExhausted(tt.give); got != tt.want {
			t.Errorf("IsExhausted(%v) = %v, want %v", tt.give, got, tt.want)
		}
	}
}

func TestErrTooLate(t *testing.T) {
	err := fmt.Errorf("w: %w", callguard.ErrTooLate)
	if !errors.Is(err, callguard.ErrTooLate) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("%v: want to match ErrTooLate and context.DeadlineExceeded", err)
	}
	if errors.Is(err, callguard.ErrOverloaded) || callguard.IsPermanent(err) || callguard.IsExhausted(err) {
		t.Errorf("%v: want not overloaded, not permanent, not exhausted", err)
	}
	var timeout interface{ Timeout() bool }
	if !errors.As(err, &timeout) || !timeout.Timeout() {
		t.Errorf("%v: want Timeout() true", err)
	}
	if errors.Is(context.DeadlineExceeded, callguard.ErrTooLate) {
		t.Error("context.DeadlineExceeded matches ErrTooLate: want only refusals for want of time")
	}
}

func TestIsExhaustedAllocs(t *testing.T) {
	if testing.Short() || race.Enabled {
		t.Skip("allocation counts are not meaningful under -race or -short")
	}
	for _, err := range []error{errors.New("x"), fmt.Errorf("w: %w", gaveUp{true})} {
		if n := testing.AllocsPerRun(100, func() { _ = callguard.IsExhausted(err) }); n != 0 {
			t.Errorf("IsExhausted(%v) allocs = %v, want 0", err, n)
		}
	}
}
