package callguard_test

import (
	"errors"
	"testing"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/hedge"
	"github.com/callguard/callguard/retry"
)

// TestCheckHedge: a hedge belongs inside retry, in a client pipeline.
func TestCheckHedge(t *testing.T) {
	tests := []struct {
		name       string
		check      func(callguard.Policy) error
		give       callguard.Policy
		wantMisuse bool
	}{
		{"client, inside retry", callguard.CheckClient, callguard.Chain(retry.New(), hedge.New()), false},
		{"client, alone", callguard.CheckClient, hedge.New(), false},
		{"client, outside retry", callguard.CheckClient, callguard.Chain(hedge.New(), retry.New()), true},
		{"server", callguard.CheckServer, hedge.New(), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.check(tt.give)
			var me *callguard.MisuseError
			if got := errors.As(err, &me) && me.Role == callguard.RoleHedge; got != tt.wantMisuse {
				t.Errorf("check = %v, want a misuse of the hedge: %v", err, tt.wantMisuse)
			}
		})
	}
}
