package retry

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/callguard/callguard"
)

// TestIsExhausted checks that the errors matching ErrExhausted, and only
// they, carry the root's marker, which the adapters read without importing
// retry.
func TestIsExhausted(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		give error
		want bool
	}{
		{"sentinel", ErrExhausted, true},
		{"ExhaustedError", &ExhaustedError{Attempts: 3, Reason: StopMaxAttempts, Err: errBoom}, true},
		{"wrapped", fmt.Errorf("w: %w", &ExhaustedError{Attempts: 2, Reason: StopBudget}), true},
		{"interrupted", interrupted(canceled, 1, errBoom), false},
		{"other", errBoom, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := callguard.IsExhausted(tt.give); got != tt.want {
				t.Errorf("IsExhausted(%v) = %v, want %v", tt.give, got, tt.want)
			}
			if got := errors.Is(tt.give, ErrExhausted); got != tt.want {
				t.Errorf("errors.Is(%v, ErrExhausted) = %v, want %v", tt.give, got, tt.want)
			}
		})
	}
	if got, want := ErrExhausted.Error(), "retry: attempts exhausted"; got != want {
		t.Errorf("ErrExhausted.Error() = %q, want %q", got, want)
	}
}
