package classify

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/callguard/callguard"
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
