package breaker

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/callguard/callguard/callguardtest"
	"github.com/callguard/callguard/internal/race"
)

func TestKeyedIsolates(t *testing.T) {
	var mu sync.Mutex
	var names []string
	k := NewKeyed(10, time.Minute, WithConsecutiveFailures(1), WithName("ignored"),
		OnStateChange(func(name string, _, _ State) { mu.Lock(); names = append(names, name); mu.Unlock() }))
	if err := k.Do(context.Background(), "a", fail); err != errBoom {
		t.Fatalf("Do(a) = %v, want %v", err, errBoom)
	}
	if err := k.Do(context.Background(), "a", succeed); !errors.Is(err, ErrOpen) {
		t.Errorf("Do(a) after its failure = %v, want ErrOpen", err)
	}
	if err := k.Do(context.Background(), "b", succeed); err != nil {
		t.Errorf("Do(b) = %v, want nil: b has its own breaker", err)
	}
	if a1, a2 := k.Get("a"), k.Get("a"); a1 != a2 || a1 == k.Get("b") {
		t.Error("Get does not return one breaker per key")
	}
	if got := k.Get("a").Name(); got != "a" {
		t.Errorf("Name() = %q, want the key", got)
	}
	if fmt.Sprint(names) != "[a]" {
		t.Errorf("hook names = %v, want [a]", names)
	}
}

func TestKeyedEviction(t *testing.T) {
	fake := callguardtest.NewClock()
	k := NewKeyed(3, time.Minute, WithClock(fake))
	keys := func() string {
		var got []string
		k.Range(func(key string, _ *Breaker) bool { got = append(got, key); return true })
		sort.Strings(got)
		return fmt.Sprint(got)
	}
	k.Get("a")
	fake.Advance(5 * time.Second) // more than idle/16: uses refresh the time
	k.Get("b")
	fake.Advance(5 * time.Second) // more than idle/16: uses refresh the time
	k.Get("c")
	fake.Advance(5 * time.Second) // more than idle/16: uses refresh the time
	k.Get("a")                    // a is now the most recently used
	k.Get("d")                    // full: b, the least recently used, goes
	if got := keys(); got != "[a c d]" || k.Len() != 3 {
		t.Fatalf("keys = %v (Len %d), want [a c d]", got, k.Len())
	}
	fake.Advance(2 * time.Minute) // a, c and d are idle...
	k.Get("d")                    // ...but d is used again
	k.Get("e")                    // full: the idle a and c go
	if got := keys(); got != "[d e]" || k.Len() != 2 {
		t.Fatalf("keys = %v (Len %d), want [d e]", got, k.Len())
	}
}

func TestKeyedHammer(t *testing.T) {
	t.Parallel()
	k := NewKeyed(8, time.Millisecond, WithConsecutiveFailures(3))
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				key := fmt.Sprint((g*7 + i) % 20)
				_ = k.Do(context.Background(), key, succeed)
				if n := k.Len(); n > 8 {
					t.Errorf("Len() = %d, want <= 8", n)
					return
				}
			}
		})
	}
	wg.Wait()
	if n := k.Len(); n < 1 || n > 8 {
		t.Errorf("Len() = %d, want in [1, 8]", n)
	}
}

func TestNewKeyedPanics(t *testing.T) {
	tests := []struct {
		name string
		give func()
		want string
	}{
		{"max keys", func() { NewKeyed(0, 0) }, "breaker: max keys must be >= 1, got 0"},
		{"idle", func() { NewKeyed(1, -1) }, "breaker: idle time must be >= 0, got -1ns"},
		{"option", func() { NewKeyed(1, 0, WithOpenTimeout(0)) }, "breaker: open timeout must be > 0, got 0s"},
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
	k := NewKeyed(100, time.Minute)
	ctx := context.Background()
	key := string([]byte("backend-1:8080")) // not a constant
	k.Get(key)
	if n := testing.AllocsPerRun(100, func() { _ = k.Do(ctx, key, succeed) }); n != 0 {
		t.Errorf("Do allocs for a held key = %v, want 0", n)
	}
}
