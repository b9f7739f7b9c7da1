package callguard_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/callguardtest"
	"github.com/callguard/callguard/internal/race"
	"github.com/callguard/callguard/retry"
	"github.com/callguard/callguard/timeout"
)

var errBoom = errors.New("boom")

// attempts returns a call that fails until its n-th call, which returns n.
func attempts(n int) func(context.Context) (int, error) {
	calls := 0
	return func(context.Context) (int, error) {
		calls++
		if calls < n {
			return calls, errBoom // a value with an error is never returned
		}
		return calls, nil
	}
}

func TestGet(t *testing.T) {
	handled := callguard.Fallback(func(context.Context, error) error { return nil })
	tests := []struct {
		name    string
		give    callguard.Doer
		giveFn  func(context.Context) (int, error)
		want    int
		wantErr error
	}{
		{"no policy", callguard.Chain(), attempts(1), 1, nil},
		{"error", callguard.Chain(), attempts(2), 0, errBoom},
		{"second attempt", retry.New(retry.WithBackoff(0, 0)), attempts(2), 2, nil},
		{"attempts exhausted", retry.New(retry.WithBackoff(0, 0), retry.WithMaxAttempts(2)), attempts(3), 0, errBoom},
		{"fallback handled", callguard.Chain(handled), attempts(2), 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := callguard.Get(context.Background(), tt.give, tt.giveFn)
			if got != tt.want || !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Errorf("Get(…) = %v, %v, want %v, %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestGetOr(t *testing.T) {
	stale := func(_ context.Context, err error) (int, error) {
		if !errors.Is(err, errBoom) {
			t.Errorf("fallback got %v, want %v", err, errBoom)
		}
		return -1, nil
	}
	tests := []struct {
		name         string
		giveFn       func(context.Context) (int, error)
		giveFallback func(context.Context, error) (int, error)
		want         int
		wantErr      error
	}{
		{"success", attempts(1), stale, 1, nil},
		{"fallback", attempts(2), stale, -1, nil},
		{"nil fallback", attempts(2), nil, 0, errBoom},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := callguard.GetOr(context.Background(), callguard.Chain(), tt.giveFn, tt.giveFallback)
			if got != tt.want || err != tt.wantErr { //nolint:errorlint // the error itself
				t.Errorf("GetOr(…) = %v, %v, want %v, %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// TestGetAbandoned: a timeout abandons a call that ignores its context, a
// Fallback handles the timeout, and the abandoned call returns its value
// while Get returns: Get must return 0 or 42 with no data race (run with
// -race, as CI does).
func TestGetAbandoned(t *testing.T) {
	t.Parallel()
	clk := callguardtest.NewClock()
	p := callguard.Chain(
		callguard.Fallback(func(context.Context, error) error { return nil }),
		timeout.New(time.Second, timeout.WithAbandon(), timeout.WithClock(clk)),
	)
	release, returned := make(chan struct{}), make(chan struct{})
	type got struct {
		v   int
		err error
	}
	gotc := make(chan got, 1)
	go func() {
		v, err := callguard.Get(context.Background(), p, func(context.Context) (int, error) {
			defer close(returned)
			<-release // ignores its context
			return 42, nil
		})
		gotc <- got{v, err}
	}()
	clk.BlockUntil(1)
	clk.Advance(time.Second)
	close(release)
	g := <-gotc
	<-returned
	if (g.v != 0 && g.v != 42) || g.err != nil {
		t.Errorf("Get(…) = %v, %v, want 0 or 42, nil (the fallback handled the timeout)", g.v, g.err)
	}
}

// TestGetParallel runs Get from many goroutines through one pipeline.
func TestGetParallel(t *testing.T) {
	t.Parallel()
	p := pipeline(false)
	done := make(chan struct{})
	for g := range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range 100 {
				want := g*1000 + i
				got, err := callguard.Get(context.Background(), p, func(context.Context) (int, error) { return want, nil })
				if got != want || err != nil {
					t.Errorf("Get(…) = %v, %v, want %v, nil", got, err, want)
					return
				}
			}
		}()
	}
	for range 8 {
		<-done
	}
}

func lookup(context.Context) (int, error) { return 7, nil }

// TestGetAllocs: Get allocates no more than Do with a closure that stores
// the result in a captured variable, the code it replaces.
func TestGetAllocs(t *testing.T) {
	if testing.Short() || race.Enabled {
		t.Skip("allocation counts differ under -race")
	}
	ctx := context.Background()
	p := pipeline(false)
	nDo := testing.AllocsPerRun(100, func() {
		var v int
		_ = p.Do(ctx, func(ctx context.Context) error {
			var err error
			v, err = lookup(ctx)
			return err
		})
		_ = v
	})
	nGet := testing.AllocsPerRun(100, func() {
		_, _ = callguard.Get(ctx, p, lookup)
	})
	if nGet > nDo {
		t.Errorf("Get allocs = %v, want ≤ %v, the allocs of Do with a captured variable", nGet, nDo)
	}
}

// BenchmarkGet and BenchmarkDoCaptured compare Get with the code it
// replaces, through the recommended pipeline without a timeout.
func BenchmarkGet(b *testing.B) {
	b.ReportAllocs()
	ctx := context.Background()
	p := pipeline(false)
	for b.Loop() {
		_, _ = callguard.Get(ctx, p, lookup)
	}
}

func BenchmarkDoCaptured(b *testing.B) {
	b.ReportAllocs()
	ctx := context.Background()
	p := pipeline(false)
	for b.Loop() {
		var v int
		_ = p.Do(ctx, func(ctx context.Context) error {
			var err error
			v, err = lookup(ctx)
			return err
		})
		_ = v
	}
}
