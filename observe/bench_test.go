package observe_test

import (
	"context"
	"testing"

	"github.com/callguard/callguard/breaker"
	"github.com/callguard/callguard/bulkhead"
	"github.com/callguard/callguard/internal/race"
	"github.com/callguard/callguard/observe"
)

// nopSink receives everything and does nothing: the cost of the hand-off.
type nopSink struct{}

func (nopSink) Bind(*observe.Instance) observe.Recorder      { return nopSink{} }
func (nopSink) Event(context.Context, observe.Event)         {}
func (nopSink) Measure(context.Context, observe.Measurement) {}

// BenchmarkDo compares a breaker's success path bare, watched, and watched
// with a sink: the cost of observation per call.
func BenchmarkDo(b *testing.B) {
	ctx := context.Background()
	b.Run("breaker", func(b *testing.B) {
		cb := breaker.New()
		b.ReportAllocs()
		for b.Loop() {
			_ = cb.Do(ctx, ok)
		}
	})
	b.Run("breaker/watched", func(b *testing.B) {
		o := observe.New()
		cb := o.Watch("b", breaker.New(o.Breaker("b")...))
		b.ReportAllocs()
		for b.Loop() {
			_ = cb.Do(ctx, ok)
		}
	})
	b.Run("breaker/watched+sink", func(b *testing.B) {
		o := observe.New(observe.WithSink(nopSink{}))
		cb := o.Watch("b", breaker.New(o.Breaker("b")...))
		b.ReportAllocs()
		for b.Loop() {
			_ = cb.Do(ctx, ok)
		}
	})
	b.Run("bulkhead/parallel", func(b *testing.B) {
		bh := bulkhead.New(1 << 20)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_ = bh.Do(ctx, ok)
			}
		})
	})
	b.Run("bulkhead/parallel/watched+sink", func(b *testing.B) {
		o := observe.New(observe.WithSink(nopSink{}))
		bh := o.Watch("b", bulkhead.New(1<<20))
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_ = bh.Do(ctx, ok)
			}
		})
	})
}

func TestWatchAllocs(t *testing.T) {
	if testing.Short() || race.Enabled {
		t.Skip("allocation counts are not meaningful under -race or -short")
	}
	o := observe.New(observe.WithSink(nopSink{}))
	cb := o.Watch("b", breaker.New(o.Breaker("b")...))
	ctx := context.Background()
	if n := testing.AllocsPerRun(100, func() { _ = cb.Do(ctx, ok) }); n != 0 {
		t.Errorf("watched Do allocs = %v, want 0", n)
	}
}
