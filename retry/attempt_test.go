package retry

import (
	"context"
	"slices"
	"testing"

	"github.com/callguard/callguard"
)

// TestDoAttemptNumbers checks that each attempt's context carries its
// number, which the adapters send on the wire, and that the number adds
// to one the caller's context already carries (a retry inside a retry).
func TestDoAttemptNumbers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		give context.Context
		want []int
	}{
		{"first call", context.Background(), []int{1, 2, 3}},
		{"inside a retry", callguard.ContextWithAttempt(context.Background(), 2), []int{2, 3, 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []int
			r := New(WithBackoff(0, 0))
			_ = r.Do(tt.give, func(ctx context.Context) error {
				got = append(got, callguard.Attempt(ctx))
				return errBoom
			})
			if !slices.Equal(got, tt.want) {
				t.Errorf("attempt numbers = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestDoFirstAttemptContext checks that the first attempt runs with the
// caller's context itself: nothing is added, nothing allocated.
func TestDoFirstAttemptContext(t *testing.T) {
	t.Parallel()
	ctx := context.WithValue(context.Background(), otherKey{}, 1)
	var got context.Context
	_ = New().Do(ctx, func(c context.Context) error { got = c; return nil })
	if got != ctx {
		t.Error("first attempt's context is not the caller's")
	}
}

// otherKey is a context key of no policy.
type otherKey struct{}
