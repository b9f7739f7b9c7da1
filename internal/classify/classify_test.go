package classify

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/internal/race"
	"github.com/callguard/callguard/loadshed"
	"github.com/callguard/callguard/retry"
)

type coded string

func (c coded) Error() string          { return string(c) }
func (c coded) CallguardError() string { return string(c) }

func exhausted(err error) error {
	return &retry.ExhaustedError{Attempts: 3, Reason: retry.StopMaxAttempts, Err: err}
}

func TestError(t *testing.T) {
	tests := []struct {
		give         error
		wantKind     Kind
		wantPushback time.Duration
	}{
		{nil, Other, 0},
		{errors.New("x"), Other, 0},
		{callguard.NewRejection("bulkhead: full"), Overloaded, 0},
		{callguard.Overloaded(time.Second, nil), Overloaded, time.Second},
		{fmt.Errorf("w: %w", callguard.Overloaded(0, nil)), Overloaded, 0},
		{context.DeadlineExceeded, Timeout, 0},
		{fmt.Errorf("w: %w", context.Canceled), Canceled, 0},
		{coded("loop"), Loop, 0},
		{fmt.Errorf("w: %w", coded("hops")), Hops, 0},
		{coded("other"), Other, 0},

		// A downstream call whose retries ran out: "overloaded, don't retry".
		{exhausted(errors.New("503")), Overloaded, 0},
		{fmt.Errorf("w: %w", exhausted(errors.New("500"))), Overloaded, 0},
		{exhausted(context.DeadlineExceeded), Overloaded, 0},
		{exhausted(callguard.Overloaded(time.Second, nil)), Overloaded, 0},
		{exhausted(nil), Overloaded, 0},
		{retry.ErrExhausted, Overloaded, 0},
		// ... unless retrying could not have fixed it.
		{exhausted(callguard.Permanent(errors.New("400"))), Other, 0},
		{exhausted(callguard.Permanent(context.DeadlineExceeded)), Timeout, 0},
		{exhausted(coded("loop")), Loop, 0},
		{exhausted(coded("hops")), Hops, 0},
	}
	for _, tt := range tests {
		k, d := Error(tt.give)
		if k != tt.wantKind || d != tt.wantPushback {
			t.Errorf("Error(%v) = %v, %v, want %v, %v", tt.give, k, d, tt.wantKind, tt.wantPushback)
		}
	}
}

func TestTooLate(t *testing.T) {
	deadline := &DeadlineError{Pkg: "httpx", Left: time.Millisecond, Min: time.Second}
	marked := MarkTooLate(errors.New("504"))
	tests := []struct {
		give error
		want bool
	}{
		{nil, false},
		{errors.New("x"), false},
		{context.DeadlineExceeded, false},
		{callguard.ErrTooLate, true},
		{loadshed.ErrDeadline, true},
		{fmt.Errorf("w: %w", loadshed.ErrDeadline), true},
		{deadline, true},
		{marked, true},
		{fmt.Errorf("w: %w", marked), true},
	}
	for _, tt := range tests {
		if got := TooLate(tt.give); got != tt.want {
			t.Errorf("TooLate(%v) = %v, want %v", tt.give, got, tt.want)
		}
	}
	// What matched loadshed.ErrDeadline before it moved to the root still
	// does, and still matches context.DeadlineExceeded.
	for _, err := range []error{loadshed.ErrDeadline, deadline, marked} {
		if !errors.Is(err, loadshed.ErrDeadline) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%v: want to match loadshed.ErrDeadline and context.DeadlineExceeded", err)
		}
		if k, _ := Error(err); k != Timeout {
			t.Errorf("Error(%v) = %v, want Timeout", err, k)
		}
	}
	if !callguard.IsPermanent(marked) || callguard.IsPermanent(deadline) {
		t.Errorf("IsPermanent: MarkTooLate %v, DeadlineError %v; want true, false",
			callguard.IsPermanent(marked), callguard.IsPermanent(deadline))
	}
}

func TestErrorAllocs(t *testing.T) {
	if testing.Short() || race.Enabled {
		t.Skip("allocation counts are not meaningful under -race or -short")
	}
	errs := []error{
		errors.New("x"),
		exhausted(errors.New("503")),
		exhausted(callguard.Permanent(errors.New("400"))),
		fmt.Errorf("w: %w", coded("loop")),
		callguard.Overloaded(time.Second, nil),
		loadshed.ErrDeadline,
		MarkTooLate(errors.New("504")),
		&DeadlineError{Pkg: "httpx"},
		context.Canceled,
	}
	for _, err := range errs {
		n := testing.AllocsPerRun(100, func() {
			_, _ = Error(err)
			_ = TooLate(err)
		})
		if n != 0 {
			t.Errorf("Error(%v) allocs = %v, want 0", err, n)
		}
	}
}
