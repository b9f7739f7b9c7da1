package retry

import (
	"context"
	"testing"
)

func ok(context.Context) error { return nil }

func BenchmarkBare(b *testing.B) {
	b.ReportAllocs()
	ctx := context.Background()
	for b.Loop() {
		_ = ok(ctx)
	}
}

func BenchmarkDo(b *testing.B) {
	r := New()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_ = r.Do(ctx, ok)
	}
}

func BenchmarkDoParallel(b *testing.B) {
	r := New()
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_ = r.Do(ctx, ok)
		}
	})
}

func BenchmarkDoWithBudget(b *testing.B) {
	r := New(WithBudget(NewBudget()))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_ = r.Do(ctx, ok)
	}
}

// BenchmarkDoWithBudgetParallel shares one budget whose balance stays below
// the capacity, so that every call's deposit is a contended CAS: the worst
// case for the success path.
func BenchmarkDoWithBudgetParallel(b *testing.B) {
	budget := NewBudget(WithMaxTokens(1e12), WithMinPerSecond(0))
	budget.balance.Store(0)
	r := New(WithBudget(budget))
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_ = r.Do(ctx, ok)
		}
	})
}
