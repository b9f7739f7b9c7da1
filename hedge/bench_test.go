package hedge

import (
	"context"
	"testing"
	"time"
)

func succeed(context.Context) error { return nil }

func BenchmarkBare(b *testing.B) {
	b.ReportAllocs()
	ctx := context.Background()
	for b.Loop() {
		_ = succeed(ctx)
	}
}

// BenchmarkDoNotSafe is a call the Hedger may not hedge: it runs as it is.
func BenchmarkDoNotSafe(b *testing.B) {
	b.ReportAllocs()
	h := New()
	ctx := context.Background()
	for b.Loop() {
		_ = h.Do(ctx, succeed)
	}
}

// BenchmarkDoNoHedge is the success path of a call that may be hedged and
// answers before the delay: the call's state, the first attempt's context
// and the timer; the attempt runs on the calling goroutine.
func BenchmarkDoNoHedge(b *testing.B) {
	b.ReportAllocs()
	h := New(WithSafe(always), WithDelay(time.Hour))
	ctx := context.Background()
	for b.Loop() {
		_ = h.Do(ctx, succeed)
	}
}

// BenchmarkDoNoHedgeQuantile adds the latency window: a sample per call.
func BenchmarkDoNoHedgeQuantile(b *testing.B) {
	b.ReportAllocs()
	h := New(WithSafe(always), WithQuantile(0.95, 1000, time.Hour))
	ctx := context.Background()
	for b.Loop() {
		_ = h.Do(ctx, succeed)
	}
}

// BenchmarkDoHedged sends a hedge at once on every call (the budget earns
// one per call); the first attempt waits until the hedge wins.
func BenchmarkDoHedged(b *testing.B) {
	b.ReportAllocs()
	h := New(WithSafe(always), WithDelay(0), WithBudget(1, 1))
	ctx := context.Background()
	fn := func(ctx context.Context) error {
		if n, _ := Attempt(ctx); n == 1 {
			<-ctx.Done()
			return ctx.Err()
		}
		return nil
	}
	for b.Loop() {
		_ = h.Do(ctx, fn)
	}
}

func BenchmarkDoNoHedgeParallel(b *testing.B) {
	b.ReportAllocs()
	h := New(WithSafe(always), WithDelay(time.Hour))
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			_ = h.Do(ctx, succeed)
		}
	})
}
