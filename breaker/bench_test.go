package breaker

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/sony/gobreaker/v2"
)

// gobreakerSettings are the settings New uses by default, for the baselines.
func gobreakerSettings() gobreaker.Settings {
	rule := tripRule{consecutive: defaultConsecutiveFailures, ratioPPM: 500_000, minRequests: defaultMinRequests}
	return gobreaker.Settings{
		MaxRequests:  defaultHalfOpenProbes,
		Interval:     defaultInterval,
		BucketPeriod: defaultBucket,
		Timeout:      defaultOpenTimeout,
		ReadyToTrip:  rule.readyToTrip,
		IsExcluded:   func(err error) bool { return err == errExcluded },
	}
}

func BenchmarkBare(b *testing.B) {
	b.ReportAllocs()
	ctx := context.Background()
	for b.Loop() {
		_ = succeed(ctx)
	}
}

func BenchmarkDo(b *testing.B) {
	b.ReportAllocs()
	cb := New()
	ctx := context.Background()
	for b.Loop() {
		_ = cb.Do(ctx, succeed)
	}
}

func BenchmarkDoParallel(b *testing.B) {
	b.ReportAllocs()
	cb := New()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			_ = cb.Do(ctx, succeed)
		}
	})
}

// BenchmarkDoOpen measures a rejection by an open circuit.
func BenchmarkDoOpen(b *testing.B) {
	b.ReportAllocs()
	cb := New(WithConsecutiveFailures(1))
	ctx := context.Background()
	_ = cb.Do(ctx, fail)
	for b.Loop() {
		_ = cb.Do(ctx, succeed)
	}
}

// BenchmarkGobreakerExecute is gobreaker alone, with the same settings: the
// cost of the wrapper is the difference with BenchmarkDo.
func BenchmarkGobreakerExecute(b *testing.B) {
	b.ReportAllocs()
	cb := gobreaker.NewCircuitBreaker[struct{}](gobreakerSettings())
	ctx := context.Background()
	for b.Loop() {
		_, _ = cb.Execute(func() (struct{}, error) { return struct{}{}, succeed(ctx) })
	}
}

// BenchmarkGobreakerTwoStep is the alternative Do could be built on:
// gobreaker's two-step Allow, with the deferred recover that counting a
// panic needs. Allow allocates its done callback on every call.
func BenchmarkGobreakerTwoStep(b *testing.B) {
	b.ReportAllocs()
	cb := gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreakerSettings())
	ctx := context.Background()
	for b.Loop() {
		_ = twoStepDo(ctx, cb, succeed)
	}
}

func twoStepDo(ctx context.Context, cb *gobreaker.TwoStepCircuitBreaker[struct{}], fn func(context.Context) error) (err error) {
	done, err := cb.Allow()
	if err != nil {
		return rejection(err)
	}
	finished := false
	defer func() {
		if !finished {
			done(errBoom) // fn panicked
		}
	}()
	err = fn(ctx)
	finished = true
	done(err)
	return err
}

// BenchmarkDoSlowCallThreshold is BenchmarkDo with a slow-call threshold:
// two more reads of the clock per call.
func BenchmarkDoSlowCallThreshold(b *testing.B) {
	b.ReportAllocs()
	cb := New(WithSlowCallThreshold(time.Second))
	ctx := context.Background()
	for b.Loop() {
		_ = cb.Do(ctx, succeed)
	}
}

// BenchmarkKeyedGet looks up a held key among 100.
func BenchmarkKeyedGet(b *testing.B) {
	b.ReportAllocs()
	k := NewKeyed(100, time.Minute)
	keys := make([]string, 100)
	for i := range keys {
		keys[i] = "10.0.0." + strconv.Itoa(i) + ":8080"
		k.Get(keys[i])
	}
	i := 0
	for b.Loop() {
		_ = k.Get(keys[i%100])
		i++
	}
}

func BenchmarkKeyedGetParallel(b *testing.B) {
	b.ReportAllocs()
	k := NewKeyed(100, time.Minute)
	keys := make([]string, 100)
	for i := range keys {
		keys[i] = "10.0.0." + strconv.Itoa(i) + ":8080"
		k.Get(keys[i])
	}
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			_ = k.Get(keys[i%100])
			i++
		}
	})
}

// BenchmarkKeyedDo is BenchmarkDo through a Keyed.
func BenchmarkKeyedDo(b *testing.B) {
	b.ReportAllocs()
	k := NewKeyed(100, time.Minute)
	ctx := context.Background()
	for b.Loop() {
		_ = k.Do(ctx, "10.0.0.1:8080", succeed)
	}
}
