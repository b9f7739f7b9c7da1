package bulkhead

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callguard/callguard/internal/race"
)

func TestKeyedIsolates(t *testing.T) {
	k := NewKeyed(10, time.Minute, 1)
	release := make(chan struct{})
	done := make(chan error)
	go func() {
		done <- k.Do(context.Background(), "slow", func(context.Context) error { <-release; return nil })
	}()
	waitInFlight(t, k, "slow", 1)
	if err := k.Do(context.Background(), "slow", func(context.Context) error { return nil }); !errors.Is(err, ErrFull) {
		t.Errorf("Do(slow) while its slot is taken = %v, want ErrFull", err)
	}
	if err := k.Do(context.Background(), "fast", func(context.Context) error { return nil }); err != nil {
		t.Errorf("Do(fast) = %v, want nil: fast has its own bulkhead", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func waitInFlight(t *testing.T, k *Keyed, key string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if b, ok := k.Get(key); ok && b.InFlight() == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: in flight never reached %d", key, n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestKeyedEviction(t *testing.T) {
	k := NewKeyed(2, time.Minute, 1)
	var now atomic.Int64
	k.now = now.Load
	ok := func(context.Context) error { return nil }

	release := make(chan struct{})
	done := make(chan error)
	go func() { // a is busy: never dropped
		done <- k.Do(context.Background(), "a", func(context.Context) error { <-release; return nil })
	}()
	waitInFlight(t, k, "a", 1)
	now.Store(int64(5 * time.Second))
	_ = k.Do(context.Background(), "b", ok)
	now.Store(int64(time.Hour)) // both idle, a still busy
	_ = k.Do(context.Background(), "c", ok)
	if _, held := k.Get("b"); held {
		t.Error("idle b still held")
	}
	if _, held := k.Get("a"); !held || k.Len() != 2 {
		t.Errorf("busy a dropped (Len %d)", k.Len())
	}
	go func() { // c busy too: no room for d
		done <- k.Do(context.Background(), "c", func(context.Context) error { <-release; return nil })
	}()
	waitInFlight(t, k, "c", 1)
	if err := k.Do(context.Background(), "d", ok); !errors.Is(err, ErrFull) {
		t.Errorf("Do(d) with every key busy = %v, want ErrFull", err)
	}
	close(release)
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if err := k.Do(context.Background(), "d", ok); err != nil {
		t.Errorf("Do(d) once a key is free = %v, want nil", err)
	}
}

// TestKeyedHammer checks that a key's limit holds while keys come and go:
// never more than n calls of one key at once, and most calls admitted.
func TestKeyedHammer(t *testing.T) {
	t.Parallel()
	const limit = 2
	k := NewKeyed(4, time.Millisecond, limit)
	var running [8]atomic.Int32
	var admitted, over atomic.Int32
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 1000 {
				key := (g + i) % 8
				err := k.Do(context.Background(), fmt.Sprint(key), func(context.Context) error {
					admitted.Add(1)
					if running[key].Add(1) > limit {
						over.Add(1)
					}
					running[key].Add(-1)
					return nil
				})
				if err != nil && !errors.Is(err, ErrFull) {
					t.Errorf("Do(…) = %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	if over.Load() != 0 {
		t.Errorf("%d calls ran over a key's limit", over.Load())
	}
	if n := admitted.Load(); n < 1000 {
		t.Errorf("admitted %d of 8000 calls, want at least 1000", n)
	}
	if n := k.Len(); n > 4 {
		t.Errorf("Len() = %d, want <= 4", n)
	}
}

func TestNewKeyedPanics(t *testing.T) {
	tests := []struct {
		name string
		give func()
		want string
	}{
		{"max keys", func() { NewKeyed(0, 0, 1) }, "bulkhead: max keys must be >= 1, got 0"},
		{"idle", func() { NewKeyed(1, -1, 1) }, "bulkhead: idle time must be >= 0, got -1ns"},
		{"limit", func() { NewKeyed(1, 0, 0) }, "bulkhead: limit must be >= 1, got 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if r := recover(); fmt.Sprint(r) != tt.want {
					t.Errorf("panic = %v, want %q", r, tt.want)
				}
			}()
			tt.give()
		})
	}
}

func TestKeyedAllocs(t *testing.T) {
	if testing.Short() || race.Enabled {
		t.Skip("alloc guard: skipped in short mode and under -race")
	}
	k := NewKeyed(100, time.Minute, 8)
	ctx := context.Background()
	key := string([]byte("backend-1:8080"))
	fn := func(context.Context) error { return nil }
	_ = k.Do(ctx, key, fn)
	if n := testing.AllocsPerRun(100, func() { _ = k.Do(ctx, key, fn) }); n != 0 {
		t.Errorf("Do allocs for a held key = %v, want 0", n)
	}
}

func BenchmarkKeyedDo(b *testing.B) {
	b.ReportAllocs()
	k := NewKeyed(100, time.Minute, 64)
	ctx := context.Background()
	fn := func(context.Context) error { return nil }
	for b.Loop() {
		_ = k.Do(ctx, "10.0.0.1:8080", fn)
	}
}

func BenchmarkKeyedDoParallel(b *testing.B) {
	b.ReportAllocs()
	k := NewKeyed(100, time.Minute, 1<<20)
	fn := func(context.Context) error { return nil }
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			_ = k.Do(ctx, "10.0.0.1:8080", fn)
		}
	})
}
