package callguard_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/internal/race"
)

func TestSynthetic(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	if callguard.IsSynthetic(ctx) {
		t.Fatal("IsSynthetic(Background) = true, want false")
	}
	s := callguard.ContextWithSynthetic(ctx)
	if !callguard.IsSynthetic(s) {
		t.Fatal("IsSynthetic(ContextWithSynthetic(ctx)) = false, want true")
	}
	if again := callguard.ContextWithSynthetic(s); again != s {
		t.Error("ContextWithSynthetic of a synthetic context made a new context, want the same")
	}
	child, cancel := context.WithCancel(callguard.ContextWithRequestID(s, "r1"))
	defer cancel()
	if !callguard.IsSynthetic(child) {
		t.Error("IsSynthetic(child of a synthetic context) = false, want true")
	}
	type otherKey struct{}
	if callguard.IsSynthetic(context.WithValue(ctx, otherKey{}, true)) {
		t.Error("IsSynthetic(another key's true) = true, want false")
	}
}

func TestIsSyntheticAllocs(t *testing.T) {
	if testing.Short() || race.Enabled {
		t.Skip("allocation counts differ under -race")
	}
	ctx := callguard.ContextWithRequestID(context.Background(), "r1")
	s := callguard.ContextWithSynthetic(ctx)
	if n := testing.AllocsPerRun(100, func() { _ = callguard.IsSynthetic(ctx) || !callguard.IsSynthetic(s) }); n != 0 {
		t.Errorf("IsSynthetic allocs = %v, want 0", n)
	}
}

// A service keeps synthetic requests out of its business metrics and skips
// their side effects; the request still takes every other step.
func ExampleIsSynthetic() {
	placeOrder := func(ctx context.Context, item string) {
		fmt.Println("order checked:", item)
		if callguard.IsSynthetic(ctx) {
			fmt.Println("synthetic: no charge, not counted")
			return
		}
		fmt.Println("card charged, orders_total++")
	}
	ctx := context.Background()
	placeOrder(ctx, "book")
	placeOrder(callguard.ContextWithSynthetic(ctx), "probe-item")
	// Output:
	// order checked: book
	// card charged, orders_total++
	// order checked: probe-item
	// synthetic: no charge, not counted
}
