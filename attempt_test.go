package callguard_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/internal/race"
)

func TestAttempt(t *testing.T) {
	t.Parallel()
	bg := context.Background()
	tests := []struct {
		name string
		give context.Context
		want int
	}{
		{"unmarked", bg, 1},
		{"first", callguard.ContextWithAttempt(bg, 1), 1},
		{"retry", callguard.ContextWithAttempt(bg, 3), 3},
		{"nested", callguard.ContextWithAttempt(callguard.ContextWithAttempt(bg, 3), 2), 4},
		{"child", context.WithValue(callguard.ContextWithAttempt(bg, 2), otherKey{}, 0), 2},
		{"inbound is not outbound", callguard.ContextWithInboundAttempt(bg, 5), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := callguard.Attempt(tt.give); got != tt.want {
				t.Errorf("Attempt(ctx) = %d, want %d", got, tt.want)
			}
		})
	}
	if callguard.ContextWithAttempt(bg, 1) != bg {
		t.Error("ContextWithAttempt(ctx, 1) made a new context, want ctx")
	}
}

func TestInboundAttempt(t *testing.T) {
	t.Parallel()
	bg := context.Background()
	if n := callguard.InboundAttempt(bg); n != 1 {
		t.Errorf("InboundAttempt(Background) = %d, want 1", n)
	}
	if ctx := callguard.ContextWithInboundAttempt(bg, 1); ctx != bg {
		t.Error("ContextWithInboundAttempt(ctx, 1) made a new context, want ctx")
	}
	ctx := callguard.ContextWithInboundAttempt(bg, 3)
	if n := callguard.InboundAttempt(ctx); n != 3 {
		t.Errorf("InboundAttempt(ctx) = %d, want 3", n)
	}
	if n := callguard.InboundAttempt(callguard.ContextWithAttempt(bg, 2)); n != 1 {
		t.Errorf("InboundAttempt(outbound attempt 2) = %d, want 1", n)
	}
}

func TestContextWithAttemptPanics(t *testing.T) {
	t.Parallel()
	const want = "callguard: attempt must be >= 1, got 0"
	for name, f := range map[string]func(){
		"ContextWithAttempt": func() { callguard.ContextWithAttempt(context.Background(), 0) },
		"Init":               func() { new(callguard.AttemptContext).Init(context.Background(), 0) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if got := fmt.Sprint(recover()); got != want {
					t.Errorf("panic = %q, want %q", got, want)
				}
			}()
			f()
		})
	}
}

func TestSafe(t *testing.T) {
	t.Parallel()
	bg := context.Background()
	if callguard.IsSafe(bg) {
		t.Error("IsSafe(Background) = true, want false")
	}
	if !callguard.IsSafe(context.WithValue(callguard.ContextSafe(bg), otherKey{}, 0)) {
		t.Error("IsSafe(child of ContextSafe) = false, want true")
	}
}

func TestAttemptContext(t *testing.T) {
	t.Parallel()
	type key struct{}
	parent := context.WithValue(callguard.ContextWithAttempt(context.Background(), 2), key{}, "v")
	var a callguard.AttemptContext
	a.Init(parent, 2)
	if n := callguard.Attempt(&a); n != 3 {
		t.Errorf("Attempt(hedge 2 of retry 2) = %d, want 3", n)
	}
	if v := a.Value(key{}); v != "v" {
		t.Errorf("Value(parent's key) = %v, want v", v)
	}
	a.Discard() // nothing registered: no-op
	released := 0
	if !callguard.OnDiscard(&a, func() { released++ }) {
		t.Fatal("OnDiscard(attempt context) = false, want true")
	}
	if !callguard.OnDiscard(context.WithValue(&a, otherKey{}, 0), func() { released += 10 }) {
		t.Fatal("OnDiscard(child of attempt context) = false, want true")
	}
	a.Discard()
	a.Discard()
	if released != 10 {
		t.Errorf("released = %d, want 10: the last registration, once", released)
	}
	if callguard.OnDiscard(parent, func() {}) {
		t.Error("OnDiscard(plain context) = true, want false")
	}
}

func TestAttemptAllocs(t *testing.T) {
	if testing.Short() || race.Enabled {
		t.Skip("allocation counts are not stable under -short or -race")
	}
	var a callguard.AttemptContext
	a.Init(context.Background(), 2)
	bg := context.Background()
	tests := []struct {
		name string
		fn   func()
	}{
		{"Attempt of an attempt context", func() { _ = callguard.Attempt(&a) }},
		{"first attempt", func() { _ = callguard.ContextWithAttempt(bg, 1) }},
		{"InboundAttempt", func() { _ = callguard.InboundAttempt(bg) }},
	}
	for _, tt := range tests {
		if n := testing.AllocsPerRun(100, tt.fn); n != 0 {
			t.Errorf("%s allocs = %v, want 0", tt.name, n)
		}
	}
}

func ExampleAttempt() {
	ctx := context.Background()
	fmt.Println(callguard.Attempt(ctx))
	retry := callguard.ContextWithAttempt(ctx, 2)   // a retry policy's second attempt
	hedge := callguard.ContextWithAttempt(retry, 2) // a hedge of that retry
	fmt.Println(callguard.Attempt(retry), callguard.Attempt(hedge))
	// Output:
	// 1
	// 2 3
}

// otherKey is a context key of no policy.
type otherKey struct{}

func TestContextUnsafe(t *testing.T) {
	t.Parallel()
	ctx := callguard.ContextUnsafe(callguard.ContextSafe(context.Background()))
	if callguard.IsSafe(ctx) {
		t.Error("IsSafe(ContextUnsafe(ContextSafe(ctx))) = true, want false")
	}
	if !callguard.IsSafe(callguard.ContextSafe(ctx)) {
		t.Error("IsSafe(ContextSafe(ContextUnsafe(ctx))) = false, want true")
	}
}

func TestHasRole(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		give callguard.Policy
		want bool
	}{
		{"nil", nil, false},
		{"alone", rolePolicy(callguard.RoleHedge), true},
		{"nested", callguard.Chain(rolePolicy(callguard.RoleRetry), callguard.Chain(rolePolicy(callguard.RoleHedge))), true},
		{"other roles", callguard.Chain(rolePolicy(callguard.RoleRetry), rolePolicy(callguard.RoleBreaker)), false},
	}
	for _, tt := range tests {
		if got := callguard.HasRole(tt.give, callguard.RoleHedge); got != tt.want {
			t.Errorf("%s: HasRole(p, RoleHedge) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// rolePolicy is a policy that does nothing and declares a role.
type rolePolicy callguard.Role

func (r rolePolicy) Wrap(next callguard.Handler) callguard.Handler { return next }
func (r rolePolicy) CallguardRole() callguard.Role                 { return callguard.Role(r) }
