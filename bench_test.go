package callguard_test

import (
	"context"
	"testing"
	"time"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/breaker"
	"github.com/callguard/callguard/bulkhead"
	"github.com/callguard/callguard/internal/race"
	"github.com/callguard/callguard/retry"
	"github.com/callguard/callguard/timeout"
)

func ok(context.Context) error { return nil }

// pipeline returns the recommended client pipeline: retry with a budget,
// breaker, bulkhead and, when withTimeout, a per-attempt timeout.
func pipeline(withTimeout bool) *callguard.Pipeline {
	ps := []callguard.Policy{
		retry.New(retry.WithBudget(retry.NewBudget())),
		breaker.New(breaker.WithName("bench")),
		bulkhead.New(1024),
	}
	if withTimeout {
		ps = append(ps, timeout.New(time.Second))
	}
	return callguard.Chain(ps...)
}

// BenchmarkBare is the baseline: the call with no pipeline at all.
func BenchmarkBare(b *testing.B) {
	b.ReportAllocs()
	ctx := context.Background()
	call := ok
	for b.Loop() {
		_ = call(ctx)
	}
}

func BenchmarkChainEmpty(b *testing.B) {
	b.ReportAllocs()
	p := callguard.Chain()
	ctx := context.Background()
	for b.Loop() {
		_ = p.Do(ctx, ok)
	}
}

func BenchmarkPipeline(b *testing.B) {
	b.ReportAllocs()
	p := pipeline(true)
	ctx := context.Background()
	for b.Loop() {
		_ = p.Do(ctx, ok)
	}
}

func BenchmarkPipelineNoTimeout(b *testing.B) {
	b.ReportAllocs()
	p := pipeline(false)
	ctx := context.Background()
	for b.Loop() {
		_ = p.Do(ctx, ok)
	}
}

func BenchmarkPipelineParallel(b *testing.B) {
	b.ReportAllocs()
	p := pipeline(true)
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			_ = p.Do(ctx, ok)
		}
	})
}

func TestPipelineAllocs(t *testing.T) {
	if testing.Short() || race.Enabled {
		t.Skip("allocation counts are not meaningful under -race or -short")
	}
	ctx := context.Background()
	p := pipeline(false)
	if n := testing.AllocsPerRun(100, func() { _ = p.Do(ctx, ok) }); n != 0 {
		t.Errorf("Pipeline (no timeout) Do allocs = %v, want 0", n)
	}
	// With a timeout the pipeline allocates what context.WithTimeout does,
	// and nothing more.
	bare := testing.AllocsPerRun(100, func() {
		_, cancel := context.WithTimeout(ctx, time.Second)
		cancel()
	})
	p = pipeline(true)
	if n := testing.AllocsPerRun(100, func() { _ = p.Do(ctx, ok) }); n > bare {
		t.Errorf("Pipeline Do allocs = %v, want <= %v (context.WithTimeout)", n, bare)
	}
}
