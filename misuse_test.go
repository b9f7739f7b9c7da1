package callguard_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/breaker"
	"github.com/callguard/callguard/bulkhead"
	"github.com/callguard/callguard/loadshed"
	"github.com/callguard/callguard/retry"
	"github.com/callguard/callguard/timeout"
	"github.com/callguard/callguard/ttl"
)

func TestCheckClient(t *testing.T) {
	attempt := timeout.New(300 * time.Millisecond)
	overall := timeout.New(5*time.Second, timeout.WithOverall())
	loop := ttl.New(ttl.WithService("orders"))
	fallback := callguard.Fallback(func(_ context.Context, err error) error { return err })
	tests := []struct {
		name     string
		give     callguard.Policy
		wantErrs []string // substrings, one per expected MisuseError; none: valid
	}{
		{"nil", nil, nil},
		{"recommended", callguard.Chain(loadshed.NewThrottle(), retry.New(), breaker.New(), bulkhead.New(64), attempt), nil},
		{"overall outside", callguard.Chain(fallback, overall, retry.New(), breaker.New(), attempt), nil},
		{"hop guard", callguard.Chain(ttl.NewGuard(), retry.New()), nil},
		{"ttl without service", callguard.Chain(ttl.New(), retry.New()), nil},
		{"no retry: timeout anywhere", callguard.Chain(attempt, breaker.New()), nil},
		{"loop check", callguard.Chain(loop, retry.New()), []string{"loop check (ttl.TTL) (policy 1) in a client pipeline"}},
		{"breaker outside retry", callguard.Chain(breaker.New(), retry.New()), []string{"breaker (policy 1) outside retry (policy 2)"}},
		{"attempt timeout outside retry", callguard.Chain(attempt, retry.New(), breaker.New()), []string{"per-attempt timeout (policy 1) outside retry (policy 2)"}},
		{"overall inside retry", callguard.Chain(retry.New(), overall), []string{"overall timeout (policy 2) inside retry (policy 1)"}},
		{"two retries", callguard.Chain(retry.New(), breaker.New(), retry.New()), []string{"retry (policy 3) inside retry (policy 1)"}},
		{"nested pipeline", callguard.Chain(breaker.New(), callguard.Chain(bulkhead.New(1), retry.New())), []string{"breaker (policy 1) outside retry (policy 3)"}},
		{"all at once", callguard.Chain(loop, breaker.New(), attempt, retry.New()), []string{"loop check", "breaker (policy 2)", "per-attempt timeout (policy 3)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkMisuse(t, callguard.CheckClient(tt.give), tt.wantErrs)
		})
	}
}

func TestCheckServer(t *testing.T) {
	tests := []struct {
		name     string
		give     callguard.Policy
		wantErrs []string
	}{
		{"nil", nil, nil},
		{"recommended", callguard.Chain(ttl.New(ttl.WithService("orders")), loadshed.New(), timeout.New(2*time.Second)), nil},
		{"bulkhead and breaker", callguard.Chain(breaker.New(), bulkhead.New(8)), nil},
		{"retry", callguard.Chain(ttl.New(ttl.WithService("orders")), retry.New()), []string{"retry (policy 2) in a server pipeline"}},
		{"retry alone", retry.New(), []string{"retry (policy 1) in a server pipeline"}},
		{"retry with breaker outside", callguard.Chain(breaker.New(), retry.New()), []string{"retry (policy 2) in a server pipeline", "breaker (policy 1) outside retry"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkMisuse(t, callguard.CheckServer(tt.give), tt.wantErrs)
		})
	}
}

// checkMisuse checks that err holds one MisuseError per want, in order,
// each message containing its want.
func checkMisuse(t *testing.T, err error, want []string) {
	t.Helper()
	if len(want) == 0 {
		if err != nil {
			t.Fatalf("Check = %v, want nil", err)
		}
		return
	}
	if !errors.Is(err, callguard.ErrMisuse) {
		t.Fatalf("Check = %v, want an error matching ErrMisuse", err)
	}
	var got []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		got = j.Unwrap()
	}
	if len(got) != len(want) {
		t.Fatalf("Check = %d errors %q, want %d", len(got), err, len(want))
	}
	for i, e := range got {
		var me *callguard.MisuseError
		if !errors.As(e, &me) {
			t.Errorf("error %d = %T, want *MisuseError", i, e)
		}
		if !strings.Contains(e.Error(), want[i]) || !strings.HasPrefix(e.Error(), "callguard: ") {
			t.Errorf("error %d = %q, want it to contain %q", i, e, want[i])
		}
	}
}

func TestRoleOf(t *testing.T) {
	tests := []struct {
		give callguard.Policy
		want callguard.Role
	}{
		{retry.New(), callguard.RoleRetry},
		{breaker.New(), callguard.RoleBreaker},
		{bulkhead.New(1), callguard.RoleBulkhead},
		{timeout.New(time.Second), callguard.RoleAttemptTimeout},
		{timeout.New(time.Second, timeout.WithOverall()), callguard.RoleOverallTimeout},
		{loadshed.New(), callguard.RoleLimiter},
		{loadshed.NewThrottle(), callguard.RoleThrottle},
		{ttl.New(ttl.WithService("a")), callguard.RoleLoopCheck},
		{ttl.New(), callguard.RoleNone},
		{ttl.NewGuard(), callguard.RoleHopGuard},
		{callguard.Chain(), callguard.RoleNone},
	}
	for _, tt := range tests {
		if got := callguard.RoleOf(tt.give); got != tt.want {
			t.Errorf("RoleOf(%T) = %v, want %v", tt.give, got, tt.want)
		}
	}
	if got, want := callguard.Role(200).String(), "role(200)"; got != want {
		t.Errorf("Role(200).String() = %q, want %q", got, want)
	}
}
