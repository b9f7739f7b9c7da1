package timeout

import (
	"context"
	"testing"
	"time"

	"github.com/callguard/callguard"
)

func BenchmarkBare(b *testing.B) {
	b.ReportAllocs()
	ctx := context.Background()
	for b.Loop() {
		_ = ok(ctx)
	}
}

// BenchmarkContextWithTimeout is the floor of BenchmarkDo: the cost of the
// context alone.
func BenchmarkContextWithTimeout(b *testing.B) {
	b.ReportAllocs()
	ctx := context.Background()
	for b.Loop() {
		c, cancel := context.WithTimeoutCause(ctx, time.Second, ErrTimeout)
		_ = ok(c)
		cancel()
	}
}

func BenchmarkDo(b *testing.B) {
	b.ReportAllocs()
	ctx := context.Background()
	tm := New(time.Second)
	for b.Loop() {
		_ = tm.Do(ctx, ok)
	}
}

func BenchmarkDoParallel(b *testing.B) {
	b.ReportAllocs()
	tm := New(time.Second)
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			_ = tm.Do(ctx, ok)
		}
	})
}

// BenchmarkDoSoonerParent: the caller's deadline comes first, so Do makes
// no context.
func BenchmarkDoSoonerParent(b *testing.B) {
	b.ReportAllocs()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tm := New(time.Hour)
	for b.Loop() {
		_ = tm.Do(ctx, ok)
	}
}

func BenchmarkChainDo(b *testing.B) {
	b.ReportAllocs()
	ctx := context.Background()
	p := callguard.Chain(New(time.Second))
	for b.Loop() {
		_ = p.Do(ctx, ok)
	}
}

// BenchmarkDoAbandon is the price of WithAbandon: a goroutine per call.
func BenchmarkDoAbandon(b *testing.B) {
	b.ReportAllocs()
	ctx := context.Background()
	tm := New(time.Second, WithAbandon())
	for b.Loop() {
		_ = tm.Do(ctx, ok)
	}
}
