package bulkhead

import (
	"context"
	"fmt"
	"runtime"
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

func BenchmarkDo(b *testing.B) {
	b.ReportAllocs()
	ctx := context.Background()
	bh := New(64)
	for b.Loop() {
		_ = bh.Do(ctx, ok)
	}
}

func BenchmarkDoParallel(b *testing.B) {
	b.ReportAllocs()
	bh := New(64)
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			_ = bh.Do(ctx, ok)
		}
	})
}

// BenchmarkDoFull measures a refusal: every slot is taken.
func BenchmarkDoFull(b *testing.B) {
	b.ReportAllocs()
	ctx := context.Background()
	bh := New(1)
	bh.TryAcquire()
	for b.Loop() {
		_ = bh.Do(ctx, ok)
	}
}

// BenchmarkWaitCancel measures a waiter that gives up at the back of a
// queue of n other waiters: it joins the queue and leaves it at once.
func BenchmarkWaitCancel(b *testing.B) {
	for _, n := range []int{100, 10_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.ReportAllocs()
			bh := New(1, WithMaxWait(time.Hour), WithMaxQueue(n+1))
			bh.TryAcquire()
			ctx, cancel := context.WithCancel(context.Background())
			errc := make(chan error, n)
			for range n {
				go func() { errc <- bh.Do(ctx, ok) }()
			}
			for bh.waiting.Load() < int64(n) {
				runtime.Gosched()
			}
			done, stop := context.WithCancel(context.Background())
			stop()
			for b.Loop() {
				_ = bh.wait(done)
			}
			cancel()
			for range n {
				<-errc
			}
			bh.Release()
		})
	}
}

func BenchmarkChainDo(b *testing.B) {
	b.ReportAllocs()
	ctx := context.Background()
	p := callguard.Chain(New(64))
	for b.Loop() {
		_ = p.Do(ctx, ok)
	}
}

// chanSem is the design Bulkhead did not take: a buffered channel as a
// counting semaphore, as errgroup's sem. The ChanSemaphore benchmarks are its
// success path, to compare with BenchmarkDo and BenchmarkDoParallel.
type chanSem chan struct{}

func (s chanSem) do(ctx context.Context, fn func(context.Context) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case s <- struct{}{}:
	default:
		return ErrFull
	}
	defer func() { <-s }()
	return fn(ctx)
}

func BenchmarkChanSemaphore(b *testing.B) {
	b.ReportAllocs()
	ctx := context.Background()
	s := make(chanSem, 64)
	for b.Loop() {
		_ = s.do(ctx, ok)
	}
}

func BenchmarkChanSemaphoreParallel(b *testing.B) {
	b.ReportAllocs()
	s := make(chanSem, 64)
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			_ = s.do(ctx, ok)
		}
	})
}
