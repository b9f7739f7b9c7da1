package loadshed

import (
	"context"
	"testing"

	"golang.org/x/time/rate"

	"github.com/callguard/callguard"
)

func BenchmarkBare(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = ok(bg)
	}
}

// BenchmarkAcquireRelease is the adapters' hot path: admit, release with
// a latency sample.
func BenchmarkAcquireRelease(b *testing.B) {
	b.ReportAllocs()
	l := New()
	for b.Loop() {
		tok, _ := l.Acquire(bg)
		tok.Release(Success)
	}
}

func BenchmarkAcquireReleaseParallel(b *testing.B) {
	b.ReportAllocs()
	l := New()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			tok, _ := l.Acquire(bg)
			tok.Release(Success)
		}
	})
}

// BenchmarkAcquireShed measures a refusal: every slot is taken.
func BenchmarkAcquireShed(b *testing.B) {
	b.ReportAllocs()
	l := New(WithFixedLimit(1))
	tok, _ := l.Acquire(bg)
	defer tok.Release(Success)
	for b.Loop() {
		_, _ = l.Acquire(bg)
	}
}

func BenchmarkDo(b *testing.B) {
	b.ReportAllocs()
	l := New()
	for b.Loop() {
		_ = l.Do(bg, ok)
	}
}

func BenchmarkDoParallel(b *testing.B) {
	b.ReportAllocs()
	l := New()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_ = l.Do(bg, ok)
		}
	})
}

// BenchmarkDoFixed is a fixed limit: no clock read.
func BenchmarkDoFixed(b *testing.B) {
	b.ReportAllocs()
	l := New(WithFixedLimit(64))
	for b.Loop() {
		_ = l.Do(bg, ok)
	}
}

func BenchmarkChainDo(b *testing.B) {
	b.ReportAllocs()
	p := callguard.Chain(New())
	for b.Loop() {
		_ = p.Do(bg, ok)
	}
}

// BenchmarkThrottle is the client throttle's decision and its record of
// the outcome.
func BenchmarkThrottle(b *testing.B) {
	b.ReportAllocs()
	th := NewThrottle()
	for b.Loop() {
		if th.Allow(Default) {
			th.Done(Default, true)
		}
	}
}

func BenchmarkThrottleParallel(b *testing.B) {
	b.ReportAllocs()
	th := NewThrottle()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if th.Allow(Default) {
				th.Done(Default, true)
			}
		}
	})
}

func BenchmarkRateLimitDo(b *testing.B) {
	b.ReportAllocs()
	rl := NewRateLimit(rate.Limit(1e12), 1<<30)
	for b.Loop() {
		_ = rl.Do(bg, ok)
	}
}

func BenchmarkKeyedRateLimitDo(b *testing.B) {
	b.ReportAllocs()
	kl := NewKeyedRateLimit(rate.Limit(1e12), 1<<30, func(context.Context) string { return "client-1" })
	for b.Loop() {
		_ = kl.Do(bg, ok)
	}
}

// BenchmarkThrottleDo is the throttle as a policy: the priority from the
// context, the decision and the record of the outcome.
func BenchmarkThrottleDo(b *testing.B) {
	b.ReportAllocs()
	th := NewThrottle()
	ctx := NewContext(context.Background(), Critical)
	for b.Loop() {
		_ = th.Do(ctx, ok)
	}
}
