package classify

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/callguard/callguard"
)

type coded string

func (c coded) Error() string          { return string(c) }
func (c coded) CallguardError() string { return string(c) }

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
	}
	for _, tt := range tests {
		k, d := Error(tt.give)
		if k != tt.wantKind || d != tt.wantPushback {
			t.Errorf("Error(%v) = %v, %v, want %v, %v", tt.give, k, d, tt.wantKind, tt.wantPushback)
		}
	}
}
