package redisstore

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callguard/callguard/breaker"
	"github.com/sony/gobreaker/v2"
)

// BenchmarkLocal is the baseline: a local breaker's success path.
func BenchmarkLocal(b *testing.B) {
	b.ReportAllocs()
	cb := breaker.New()
	ctx := context.Background()
	for b.Loop() {
		_ = cb.Do(ctx, succeed)
	}
}

// BenchmarkShared is a Shared's success path, Redis up: the local breaker
// and one atomic read; Redis is read by the background goroutine only.
func BenchmarkShared(b *testing.B) {
	b.ReportAllocs()
	s := newShared(b, client(b), uniqueName(b), breaker.New())
	ctx := context.Background()
	for b.Loop() {
		_ = s.Do(ctx, succeed)
	}
}

// BenchmarkDistributedCircuitBreaker is gobreaker's distributed breaker on
// the Redis store: four round trips per call, under the store's lock.
func BenchmarkDistributedCircuitBreaker(b *testing.B) {
	b.ReportAllocs()
	dcb, err := gobreaker.NewDistributedCircuitBreaker[struct{}](New(client(b)), gobreaker.Settings{Name: uniqueName(b)})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := dcb.Execute(func() (struct{}, error) { return struct{}{}, nil }); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDistributedCircuitBreakerParallel runs it from several
// goroutines: a call that finds the store's lock taken sleeps 500 ms
// before it tries again, and fails after 5 s (the errors/op metric).
func BenchmarkDistributedCircuitBreakerParallel(b *testing.B) {
	b.ReportAllocs()
	dcb, err := gobreaker.NewDistributedCircuitBreaker[struct{}](New(client(b)), gobreaker.Settings{Name: uniqueName(b)})
	if err != nil {
		b.Fatal(err)
	}
	var errs atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := dcb.Execute(func() (struct{}, error) { return struct{}{}, nil }); err != nil {
				errs.Add(1)
			}
		}
	})
	b.ReportMetric(float64(errs.Load())/float64(b.N), "errors/op")
}

// BenchmarkSharedParallel is BenchmarkShared from several goroutines.
func BenchmarkSharedParallel(b *testing.B) {
	b.ReportAllocs()
	s := newShared(b, client(b), uniqueName(b), breaker.New())
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			_ = s.Do(ctx, succeed)
		}
	})
}

// BenchmarkPropagation measures how long after one copy's breaker opens
// another copy refuses calls, with the default interval (100 ms): the
// ms/open metric.
func BenchmarkPropagation(b *testing.B) {
	var total time.Duration
	for b.Loop() {
		name := uniqueName(b)
		a := newShared(b, client(b), name, breaker.New(breaker.WithConsecutiveFailures(1)))
		other := newShared(b, client(b), name, breaker.New())
		time.Sleep(rand.N(DefaultInterval)) // any phase of the other's ticker
		_ = a.Do(context.Background(), fail)
		total += eventually(b, "the other copy refuses", func() bool {
			return errors.Is(other.Do(context.Background(), succeed), breaker.ErrOpen)
		})
	}
	b.ReportMetric(float64(total)/float64(b.N)/1e6, "ms/open")
}
