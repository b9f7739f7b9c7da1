package chaos

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/callguardtest"
	"github.com/callguard/callguard/internal/race"
)

func ok(context.Context) error { return nil }

// counting returns a call that counts its runs.
func counting(n *int) func(context.Context) error {
	return func(context.Context) error { *n++; return nil }
}

func TestSwitch(t *testing.T) {
	c := New(WithError(1, nil))
	var runs int
	if err := c.Do(context.Background(), counting(&runs)); err != nil || runs != 1 {
		t.Fatalf("disabled: Do = %v with %d runs, want nil with 1", err, runs)
	}
	c.Enable()
	if !c.Enabled() {
		t.Error("Enabled() = false after Enable")
	}
	if err := c.Do(context.Background(), counting(&runs)); err != ErrInjected || runs != 1 { //nolint:errorlint // the sentinel itself
		t.Fatalf("enabled: Do = %v with %d runs, want ErrInjected with 1", err, runs)
	}
	c.Disable()
	if err := c.Do(context.Background(), counting(&runs)); err != nil || runs != 2 {
		t.Fatalf("disabled again: Do = %v with %d runs, want nil with 2", err, runs)
	}
}

func TestDraws(t *testing.T) {
	custom := callguard.Permanent(errors.New("bad request"))
	tests := []struct {
		name     string
		giveOpts []Option
		giveDraw float64
		wantErr  error // nil: the call ran
	}{
		{"error drawn", []Option{WithError(0.5, nil)}, 0.3, ErrInjected},
		{"error not drawn", []Option{WithError(0.2, nil)}, 0.3, nil},
		{"error at the rate", []Option{WithError(0.3, nil)}, 0.3, nil},
		{"custom error", []Option{WithError(1, custom)}, 0.99, custom},
		{"zero rate", []Option{WithError(0, nil)}, 0, nil},
		{"refusal before error", []Option{WithError(1, custom), WithRefusal(1, 0)}, 0.5, callguard.ErrOverloaded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(append(tt.giveOpts, withRand(func() float64 { return tt.giveDraw }))...)
			c.Enable()
			var runs int
			err := c.Do(context.Background(), counting(&runs))
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (runs == 1) {
				t.Errorf("Do = %v with %d runs, want %v", err, runs, tt.wantErr)
			}
		})
	}
}

func TestRefusal(t *testing.T) {
	for _, give := range []time.Duration{0, time.Second} {
		c := New(WithRefusal(1, give))
		c.Enable()
		err := c.Do(context.Background(), ok)
		d, isOverloaded := callguard.Pushback(err)
		if !isOverloaded || d != give || !errors.Is(err, ErrInjected) || errors.Is(err, callguard.ErrRejected) {
			t.Errorf("Do = %v (pushback %v, %v), want a callee's refusal with pushback %v matching ErrInjected", err, d, isOverloaded, give)
		}
		if got, want := callguard.Retryable(err), give > 0; got != want {
			t.Errorf("Retryable(%v) = %v, want %v", err, got, want)
		}
	}
}

func TestLatency(t *testing.T) {
	t.Parallel()
	clk := callguardtest.NewClock()
	c := New(WithLatency(1, 200*time.Millisecond), WithClock(clk))
	c.Enable()
	ran := make(chan time.Time, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- c.Do(context.Background(), func(context.Context) error { ran <- clk.Now(); return nil })
	}()
	clk.BlockUntil(1)
	select {
	case <-ran:
		t.Fatal("call ran before the injected latency passed")
	default:
	}
	clk.Advance(200 * time.Millisecond)
	if at := <-ran; at.Sub(callguardtest.Start) != 200*time.Millisecond {
		t.Errorf("call ran at +%v, want +200ms", at.Sub(callguardtest.Start))
	}
	if err := <-errc; err != nil {
		t.Errorf("Do = %v, want nil", err)
	}
}

func TestLatencyCanceled(t *testing.T) {
	t.Parallel()
	clk := callguardtest.NewClock()
	c := New(WithLatency(1, time.Second), WithClock(clk))
	c.Enable()
	ctx, cancel := context.WithCancel(context.Background())
	var runs int
	errc := make(chan error, 1)
	go func() { errc <- c.Do(ctx, counting(&runs)) }()
	clk.BlockUntil(1)
	cancel()
	if err := <-errc; err != context.Canceled || runs != 0 { //nolint:errorlint // ctx.Err() itself
		t.Errorf("Do = %v with %d runs, want context.Canceled with 0", err, runs)
	}
	if n := clk.Timers(); n != 0 {
		t.Errorf("%d timers left, want 0", n)
	}
}

func TestEnabledIf(t *testing.T) {
	type key struct{}
	c := New(WithError(1, nil), WithEnabledIf(func(ctx context.Context) bool { return ctx.Value(key{}) != nil }))
	c.Enable()
	if err := c.Do(context.Background(), ok); err != nil {
		t.Errorf("Do without the mark = %v, want nil", err)
	}
	if err := c.Do(context.WithValue(context.Background(), key{}, true), ok); !errors.Is(err, ErrInjected) {
		t.Errorf("Do with the mark = %v, want ErrInjected", err)
	}
}

// TestRate draws with the real random source: the share of injected errors
// stays near the rate. Over 20 000 calls at 0.3 the standard deviation is
// 0.0032; the bounds are more than ten of them away.
func TestRate(t *testing.T) {
	t.Parallel()
	c := New(WithError(0.3, nil))
	c.Enable()
	const n = 20000
	injected := 0
	for range n {
		if c.Do(context.Background(), ok) != nil {
			injected++
		}
	}
	if share := float64(injected) / n; share < 0.25 || share > 0.35 {
		t.Errorf("injected %d of %d calls (%.3f), want about 0.3", injected, n, share)
	}
}

func TestNewPanics(t *testing.T) {
	tests := []struct {
		give []Option
		want string
	}{
		{[]Option{WithError(1.5, nil)}, "chaos: error rate must be in [0, 1], got 1.5"},
		{[]Option{WithRefusal(-0.1, 0)}, "chaos: refusal rate must be in [0, 1], got -0.1"},
		{[]Option{WithLatency(0.5, 0)}, "chaos: latency must be > 0, got 0s"},
	}
	for _, tt := range tests {
		func() {
			defer func() {
				if got, _ := recover().(string); !strings.HasPrefix(got, tt.want) {
					t.Errorf("New panicked with %q, want %q", got, tt.want)
				}
			}()
			New(tt.give...)
		}()
	}
}

func TestChaosAllocs(t *testing.T) {
	if testing.Short() || race.Enabled {
		t.Skip("allocation counts differ under -race")
	}
	ctx := context.Background()
	c := New(WithError(0.5, nil), WithLatency(0.5, time.Second), WithRefusal(0.5, 0), withRand(func() float64 { return 0.9 }))
	h := c.Wrap(callguard.Invoke)
	if n := testing.AllocsPerRun(100, func() { _ = h(ctx, ok) }); n != 0 {
		t.Errorf("disabled Do allocs = %v, want 0", n)
	}
	c.Enable()
	if n := testing.AllocsPerRun(100, func() { _ = h(ctx, ok) }); n != 0 {
		t.Errorf("enabled Do without a fault allocs = %v, want 0", n)
	}
	inject := New(WithError(0.5, nil), WithRefusal(0.5, 0), withRand(func() float64 { return 0.1 }))
	inject.Enable()
	if n := testing.AllocsPerRun(100, func() { _ = inject.Do(ctx, ok) }); n != 0 {
		t.Errorf("Do injecting a refusal allocs = %v, want 0", n)
	}
}

func BenchmarkBare(b *testing.B) {
	b.ReportAllocs()
	ctx := context.Background()
	for b.Loop() {
		_ = callguard.Invoke(ctx, ok)
	}
}

func BenchmarkDisabled(b *testing.B) {
	b.ReportAllocs()
	ctx := context.Background()
	h := New(WithError(0.1, nil), WithRefusal(0.1, 0)).Wrap(callguard.Invoke)
	for b.Loop() {
		_ = h(ctx, ok)
	}
}

// BenchmarkEnabled injects faults into 20% of the calls.
func BenchmarkEnabled(b *testing.B) {
	b.ReportAllocs()
	ctx := context.Background()
	c := New(WithError(0.1, nil), WithRefusal(0.1, 0))
	c.Enable()
	h := c.Wrap(callguard.Invoke)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_ = h(ctx, ok)
		}
	})
}
