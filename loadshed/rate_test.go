package loadshed

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/time/rate"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/callguardtest"
)

func TestNewRateLimitPanics(t *testing.T) {
	key := func(context.Context) string { return "" }
	tests := []struct {
		name      string
		give      func()
		wantPanic string
	}{
		{"rate", func() { NewRateLimit(-1, 1) }, "loadshed: rate must be >= 0, got -1"},
		{"burst", func() { NewRateLimit(1, 0) }, "loadshed: burst must be >= 1, got 0"},
		{"wait", func() { NewRateLimit(1, 1, WithMaxWait(-1)) }, "loadshed: max wait must be >= 0, got -1ns"},
		{"keys", func() { NewKeyedRateLimit(1, 1, key, WithMaxKeys(0)) }, "loadshed: max keys must be >= 1, got 0"},
		{"key func", func() { NewKeyedRateLimit(1, 1, nil) }, "loadshed: nil key function"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if got := recover(); got != tt.wantPanic {
					t.Errorf("panic = %v, want %q", got, tt.wantPanic)
				}
			}()
			tt.give()
		})
	}
}

func TestRateLimit(t *testing.T) {
	clk := callguardtest.NewClock()
	rl := NewRateLimit(10, 2, WithClock(clk))
	for range 2 {
		if err := rl.Do(bg, ok); err != nil {
			t.Fatalf("Do(…) within the burst = %v, want nil", err)
		}
	}
	err := rl.Do(critical, func(context.Context) error {
		t.Error("fn called over the rate")
		return nil
	})
	want := &ShedError{Priority: Critical, Delay: 100 * time.Millisecond, Reason: ReasonRate}
	var se *ShedError
	if !errors.As(err, &se) || *se != *want {
		t.Fatalf("Do(…) over the rate = %#v, want %#v", err, want)
	}
	for _, target := range []error{ErrRateLimited, ErrShed, callguard.ErrOverloaded, callguard.ErrRejected} {
		if !errors.Is(err, target) {
			t.Errorf("errors.Is(%v, %v) = false", err, target)
		}
	}
	if d, ok := callguard.Pushback(err); !ok || d != 100*time.Millisecond || !callguard.Retryable(err) {
		t.Errorf("Pushback(%v) = %v, %v; want 100ms, true, and retryable", err, d, ok)
	}
	clk.Advance(100 * time.Millisecond)
	if err := callguard.Chain(rl).Do(bg, ok); err != nil {
		t.Errorf("Do(…) a token later = %v, want nil", err)
	}
	inf := NewRateLimit(rate.Inf, 0)
	for range 100 {
		if err := inf.Do(bg, ok); err != nil {
			t.Fatalf("Do(…) at rate.Inf = %v, want nil", err)
		}
	}
}

func TestRateLimitWait(t *testing.T) {
	// newRL returns a rate limit of 10/s, burst 1, whose token is taken.
	newRL := func(maxWait time.Duration) (*RateLimit, *callguardtest.Clock) {
		clk := callguardtest.NewClock()
		rl := NewRateLimit(10, 1, WithClock(clk), WithMaxWait(maxWait))
		if err := tryNow(rl); err != nil {
			t.Fatalf("Do(…) = %v, want nil", err)
		}
		return rl, clk
	}
	errc := make(chan error, 1)

	rl, clk := newRL(150 * time.Millisecond)
	go func() { errc <- rl.Do(bg, ok) }()
	clk.BlockUntil(1)
	clk.Advance(100 * time.Millisecond)
	if err := <-errc; err != nil {
		t.Errorf("Do(…) after waiting for a token = %v, want nil", err)
	}

	rl, _ = newRL(50 * time.Millisecond)
	if err := rl.Do(bg, ok); !errors.Is(err, ErrRateLimited) {
		t.Errorf("Do(…) 100ms from a token, 50ms max wait = %v, want %v", err, ErrRateLimited)
	}

	rl, clk = newRL(150 * time.Millisecond)
	short := fakeDeadline{bg, clk.Now().Add(50 * time.Millisecond)}
	if err := rl.Do(short, ok); !errors.Is(err, ErrRateLimited) {
		t.Errorf("Do(…) with a deadline before the token = %v, want %v", err, ErrRateLimited)
	}

	rl, clk = newRL(150 * time.Millisecond)
	ctx, cancel := context.WithCancel(bg)
	go func() { errc <- rl.Do(ctx, ok) }()
	clk.BlockUntil(1)
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("Do(…) canceled while waiting = %v, want %v", err, context.Canceled)
	}
	clk.Advance(100 * time.Millisecond)
	if err := tryNow(rl); err != nil {
		t.Errorf("Do(…) after a canceled wait = %v, want nil: the token was given back", err)
	}
}

// tryNow takes a token from rl without waiting.
func tryNow(rl *RateLimit) error { return admit(bg, rl.lim, rl.clock, 0) }

func TestKeyedRateLimit(t *testing.T) {
	type keyType struct{}
	key := func(ctx context.Context) string { s, _ := ctx.Value(keyType{}).(string); return s }
	with := func(k string) context.Context { return context.WithValue(bg, keyType{}, k) }
	clk := callguardtest.NewClock()
	kl := NewKeyedRateLimit(1, 1, key, WithClock(clk), WithMaxKeys(3))
	if err := kl.Do(with("a"), ok); err != nil {
		t.Fatalf("Do(a) = %v, want nil", err)
	}
	if err := kl.Do(with("a"), ok); !errors.Is(err, ErrRateLimited) {
		t.Errorf("Do(a) again = %v, want %v", err, ErrRateLimited)
	}
	if err := callguard.Chain(kl).Do(with("b"), ok); err != nil {
		t.Errorf("Do(b) = %v, want nil: keys are independent", err)
	}
	for i := range 100 {
		_ = kl.Do(with(fmt.Sprint(i)), ok)
		_ = kl.Do(with("a"), ok) // keeps a recent
		if n := kl.Keys(); n > 3 {
			t.Fatalf("Keys() = %d, want <= 3", n)
		}
	}
	if err := kl.Do(with("a"), ok); !errors.Is(err, ErrRateLimited) {
		t.Errorf("Do(a) after 100 other keys = %v, want %v: a was kept", err, ErrRateLimited)
	}
	if err := kl.Do(with("b"), ok); err != nil {
		t.Errorf("Do(b) after eviction = %v, want nil: a new, full bucket", err)
	}
}

// keptBytes returns the bytes of key strings that kl keeps.
func keptBytes(kl *KeyedRateLimit) int {
	kl.mu.Lock()
	defer kl.mu.Unlock()
	n := 0
	for id := range kl.keys {
		n += len(id.s)
	}
	return n
}

func TestKeyedRateLimitLongKeys(t *testing.T) {
	type keyType struct{}
	key := func(ctx context.Context) string { s, _ := ctx.Value(keyType{}).(string); return s }
	with := func(k string) context.Context { return context.WithValue(bg, keyType{}, k) }
	kl := NewKeyedRateLimit(1, 1, key, WithClock(callguardtest.NewClock()))
	prefix := strings.Repeat("k", 64<<10)
	for i := range 100 {
		if err := kl.Do(with(prefix+fmt.Sprint(i)), ok); err != nil {
			t.Fatalf("Do(long key %d) = %v, want nil: each long key has its own bucket", i, err)
		}
	}
	if err := kl.Do(with(prefix+"7"), ok); !errors.Is(err, ErrRateLimited) {
		t.Errorf("Do(long key 7) again = %v, want %v", err, ErrRateLimited)
	}
	buf := strings.Repeat("s", 1<<20)
	if err := kl.Do(with(buf[:MaxKeyLen]), ok); err != nil {
		t.Errorf("Do(a key of MaxKeyLen) = %v, want nil", err)
	}
	if n, want := kl.Keys(), 101; n != want {
		t.Errorf("Keys() = %d, want %d", n, want)
	}
	if n, max := keptBytes(kl), kl.Keys()*MaxKeyLen; n > max {
		t.Errorf("kept %d bytes of keys for %d keys, want at most %d", n, kl.Keys(), max)
	}
	kl.mu.Lock()
	for id := range kl.keys {
		if len(id.s) == MaxKeyLen && unsafe.StringData(id.s) == unsafe.StringData(buf) {
			t.Errorf("the key of MaxKeyLen shares the memory of the string it was cut from")
		}
	}
	kl.mu.Unlock()
}
