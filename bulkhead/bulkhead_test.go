package bulkhead

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/callguardtest"
	"github.com/callguard/callguard/internal/race"
)

var _ callguard.Policy = (*Bulkhead)(nil)

func ok(context.Context) error { return nil }

// fill takes every slot of b.
func fill(t *testing.T, b *Bulkhead) {
	t.Helper()
	for range b.Limit() {
		if !b.TryAcquire() {
			t.Fatal("TryAcquire() = false on a free slot")
		}
	}
}

// checkIdle fails unless b holds no slot and has no waiter.
func checkIdle(t *testing.T, b *Bulkhead) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if n, w, q := b.InFlight(), b.waiting.Load(), b.queue.len; n != 0 || w != 0 || q != 0 {
		t.Errorf("InFlight() = %d, waiting = %d, queue = %d; want all 0", n, w, q)
	}
}

func TestNewPanics(t *testing.T) {
	tests := []struct {
		name      string
		giveLimit int
		giveOpts  []Option
		wantPanic string
	}{
		{"zero limit", 0, nil, "bulkhead: limit must be >= 1, got 0"},
		{"negative limit", -3, nil, "bulkhead: limit must be >= 1, got -3"},
		{"negative wait", 1, []Option{WithMaxWait(-time.Second)}, "bulkhead: max wait must be >= 0, got -1s"},
		{"negative queue", 1, []Option{WithMaxQueue(-1)}, "bulkhead: max queue must be >= 0, got -1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if got := recover(); got != tt.wantPanic {
					t.Errorf("New panic = %v, want %q", got, tt.wantPanic)
				}
			}()
			New(tt.giveLimit, tt.giveOpts...)
		})
	}
}

func TestDoReturnsFnResult(t *testing.T) {
	b := New(2)
	want := errors.New("boom")
	err := b.Do(context.Background(), func(context.Context) error {
		if got := b.InFlight(); got != 1 {
			t.Errorf("InFlight() during call = %d, want 1", got)
		}
		return want
	})
	if !errors.Is(err, want) {
		t.Errorf("Do(…) = %v, want %v", err, want)
	}
	if b.Limit() != 2 {
		t.Errorf("Limit() = %d, want 2", b.Limit())
	}
	checkIdle(t, b)
}

func TestDoFullRejectsAtOnce(t *testing.T) {
	var fulls atomic.Int64
	b := New(2, OnFull(func(context.Context) { fulls.Add(1) }))
	fill(t, b)
	called := false
	err := b.Do(context.Background(), func(context.Context) error { called = true; return nil })
	if !errors.Is(err, ErrFull) {
		t.Fatalf("Do(…) = %v, want %v", err, ErrFull)
	}
	if !errors.Is(err, callguard.ErrRejected) || !errors.Is(err, callguard.ErrOverloaded) {
		t.Errorf("Do(…) = %v, want a match for ErrRejected and ErrOverloaded", err)
	}
	if called {
		t.Error("fn called on a full bulkhead")
	}
	if b.TryAcquire() {
		t.Error("TryAcquire() = true on a full bulkhead")
	}
	if got := fulls.Load(); got != 2 {
		t.Errorf("OnFull calls = %d, want 2", got)
	}
	b.Release()
	b.Release()
	checkIdle(t, b)
}

func TestDoDoneContext(t *testing.T) {
	b := New(1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := b.Do(ctx, func(context.Context) error {
		t.Error("fn called with a done context")
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Do(…) = %v, want %v", err, context.Canceled)
	}
	checkIdle(t, b)
}

func TestDoReleasesOnPanic(t *testing.T) {
	b := New(1)
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Errorf("recover() = %v, want boom", r)
			}
		}()
		_ = b.Do(context.Background(), func(context.Context) error { panic("boom") })
	}()
	checkIdle(t, b)
	if err := b.Do(context.Background(), ok); err != nil {
		t.Errorf("Do(…) after a panic = %v, want nil", err)
	}
}

func TestReleaseMoreThanHeld(t *testing.T) {
	b := New(1)
	defer func() {
		if r := recover(); r != "bulkhead: released more than held" {
			t.Errorf("Release() panic = %v, want bulkhead: released more than held", r)
		}
		checkIdle(t, b)
	}()
	b.Release()
}

func TestWrap(t *testing.T) {
	b := New(1)
	p := callguard.Chain(b)
	err := p.Do(context.Background(), func(context.Context) error {
		if got := b.InFlight(); got != 1 {
			t.Errorf("InFlight() during call = %d, want 1", got)
		}
		if err := p.Do(context.Background(), ok); !errors.Is(err, ErrFull) {
			t.Errorf("nested Do(…) = %v, want %v", err, ErrFull)
		}
		return nil
	})
	if err != nil {
		t.Errorf("Do(…) = %v, want nil", err)
	}
	checkIdle(t, b)
}

// startDo runs b.Do(ctx, ok) in a goroutine and returns its result channel.
func startDo(b *Bulkhead, ctx context.Context, fn func(context.Context) error) <-chan error {
	errc := make(chan error, 1)
	go func() { errc <- b.Do(ctx, fn) }()
	return errc
}

func TestWaitGetsReleasedSlot(t *testing.T) {
	clk := callguardtest.NewClock()
	b := New(1, WithMaxWait(time.Second), WithClock(clk))
	fill(t, b)
	errc := startDo(b, context.Background(), ok)
	clk.BlockUntil(1)
	b.Release()
	if err := <-errc; err != nil {
		t.Errorf("Do(…) = %v, want nil", err)
	}
	if n := clk.Timers(); n != 0 {
		t.Errorf("Timers() = %d after the wait, want 0 (timer stopped)", n)
	}
	checkIdle(t, b)
}

func TestWaitTimesOut(t *testing.T) {
	clk := callguardtest.NewClock()
	var fulls atomic.Int64
	b := New(1, WithMaxWait(time.Second), WithClock(clk), OnFull(func(context.Context) { fulls.Add(1) }))
	fill(t, b)
	errc := startDo(b, context.Background(), func(context.Context) error {
		t.Error("fn called after the wait expired")
		return nil
	})
	clk.BlockUntil(1)
	clk.Advance(time.Second - 1)
	select {
	case err := <-errc:
		t.Fatalf("Do(…) = %v before the wait expired", err)
	default:
	}
	clk.Advance(1)
	if err := <-errc; !errors.Is(err, ErrFull) {
		t.Errorf("Do(…) = %v, want %v", err, ErrFull)
	}
	if got := fulls.Load(); got != 1 {
		t.Errorf("OnFull calls = %d, want 1", got)
	}
	b.Release()
	checkIdle(t, b)
}

func TestWaitContextCanceled(t *testing.T) {
	clk := callguardtest.NewClock()
	b := New(1, WithMaxWait(time.Second), WithClock(clk))
	fill(t, b)
	ctx, cancel := context.WithCancel(context.Background())
	errc := startDo(b, ctx, func(context.Context) error {
		t.Error("fn called after cancellation")
		return nil
	})
	clk.BlockUntil(1)
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("Do(…) = %v, want %v", err, context.Canceled)
	}
	b.Release()
	checkIdle(t, b)
}

func TestWaitFIFO(t *testing.T) {
	clk := callguardtest.NewClock()
	b := New(1, WithMaxWait(time.Second), WithClock(clk))
	fill(t, b)
	order := make(chan int, 2)
	first := startDo(b, context.Background(), func(context.Context) error { order <- 1; return nil })
	clk.BlockUntil(1)
	second := startDo(b, context.Background(), func(context.Context) error { order <- 2; return nil })
	clk.BlockUntil(2)
	b.Release()
	for _, errc := range []<-chan error{first, second} {
		if err := <-errc; err != nil {
			t.Errorf("Do(…) = %v, want nil", err)
		}
	}
	if a, z := <-order, <-order; a != 1 || z != 2 {
		t.Errorf("order = %d, %d; want 1, 2", a, z)
	}
	checkIdle(t, b)
}

// TestHammer runs many goroutines through a small bulkhead and checks that
// no more than the limit run at once and that every slot comes back. The
// short waits and deadlines race timers and cancellations against hand-offs.
func TestHammer(t *testing.T) {
	const limit = 3
	tests := []struct {
		name     string
		giveOpts []Option
		giveCtx  func() (context.Context, context.CancelFunc)
	}{
		{"no wait", nil, nil},
		{"long wait", []Option{WithMaxWait(time.Hour)}, nil},
		{"short wait", []Option{WithMaxWait(20 * time.Microsecond)}, nil},
		{"short deadline", []Option{WithMaxWait(time.Hour)}, func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 30*time.Microsecond)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := New(limit, tt.giveOpts...)
			var running atomic.Int64
			body := func(context.Context) error {
				if n := running.Add(1); n > limit {
					t.Errorf("%d calls running, limit %d", n, limit)
				}
				runtime.Gosched()
				running.Add(-1)
				return nil
			}
			t.Run("group", func(t *testing.T) {
				for i := range 8 {
					t.Run(fmt.Sprint(i), func(t *testing.T) {
						t.Parallel()
						hammer(t, b, i%3 == 0, tt.giveCtx, body)
					})
				}
			})
			checkIdle(t, b)
		})
	}
}

func hammer(t *testing.T, b *Bulkhead, try bool, newCtx func() (context.Context, context.CancelFunc), body func(context.Context) error) {
	t.Helper()
	for range 200 {
		if try {
			if b.TryAcquire() {
				_ = body(context.Background())
				b.Release()
			}
			continue
		}
		ctx, cancel := context.Background(), context.CancelFunc(func() {})
		if newCtx != nil {
			ctx, cancel = newCtx()
		}
		err := b.Do(ctx, body)
		cancel()
		if err != nil && !errors.Is(err, ErrFull) && !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Do(…) = %v, want nil, ErrFull or DeadlineExceeded", err)
		}
	}
}

func TestDoAllocs(t *testing.T) {
	if testing.Short() || race.Enabled {
		t.Skip("allocation guard: skipped in -short and under -race")
	}
	ctx := context.Background()
	b := New(4)
	h := callguard.Chain(b)
	if n := testing.AllocsPerRun(100, func() { _ = b.Do(ctx, ok) }); n != 0 {
		t.Errorf("Do allocs = %v, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() { _ = h.Do(ctx, ok) }); n != 0 {
		t.Errorf("Chain(b).Do allocs = %v, want 0", n)
	}
	full := New(1)
	fill(t, full)
	if n := testing.AllocsPerRun(100, func() { _ = full.Do(ctx, ok) }); n != 0 {
		t.Errorf("Do allocs when full = %v, want 0", n)
	}
}

// TestOnFullContext checks that the hook gets the refused call's context,
// with its request id, and context.Background from TryAcquire.
func TestOnFullContext(t *testing.T) {
	var ids []string
	b := New(1, OnFull(func(ctx context.Context) { ids = append(ids, callguard.RequestIDFromContext(ctx)) }))
	fill(t, b)
	ctx := callguard.ContextWithRequestID(context.Background(), "req-7")
	if err := b.Do(ctx, func(context.Context) error { return nil }); !errors.Is(err, ErrFull) {
		t.Fatalf("Do(…) = %v, want %v", err, ErrFull)
	}
	b.TryAcquire()
	if len(ids) != 2 || ids[0] != "req-7" || ids[1] != "" {
		t.Errorf("OnFull saw request ids %q, want [req-7 \"\"]", ids)
	}
	b.Release()
	checkIdle(t, b)
}

// waitFor starts n calls of b.Do(ctx, ok) that wait for a slot and returns
// once all of them are queued, with a channel that gets their results.
func waitFor(t *testing.T, b *Bulkhead, clk *callguardtest.Clock, ctx context.Context, n int) <-chan error {
	t.Helper()
	errc := make(chan error, n)
	for range n {
		go func() { errc <- b.Do(ctx, ok) }()
	}
	clk.BlockUntil(n)
	return errc
}

// doNoWait returns the result of b.Do(ctx, ok), which must not wait: it
// fails the test if the call starts a timer beyond the n that clk has, and
// then ends every wait.
func doNoWait(t *testing.T, b *Bulkhead, clk *callguardtest.Clock, n int) error {
	t.Helper()
	errc := startDo(b, context.Background(), ok)
	for {
		select {
		case err := <-errc:
			return err
		default:
		}
		if clk.Timers() > n {
			clk.Advance(time.Hour)
			t.Fatalf("Do(…) with %d waiting queued, want it refused at once", n)
		}
		runtime.Gosched()
	}
}

func TestWaitQueueBounded(t *testing.T) {
	tests := []struct {
		name     string
		giveOpts []Option
		wantMax  int
	}{
		{"default", nil, 1024},
		{"WithMaxQueue(2)", []Option{WithMaxQueue(2)}, 2},
		{"WithMaxQueue(0)", []Option{WithMaxQueue(0)}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := callguardtest.NewClock()
			var fulls atomic.Int64
			opts := append([]Option{WithMaxWait(time.Second), WithClock(clk), OnFull(func(context.Context) { fulls.Add(1) })}, tt.giveOpts...)
			b := New(1, opts...)
			fill(t, b)
			errc := waitFor(t, b, clk, context.Background(), tt.wantMax)
			if err := doNoWait(t, b, clk, tt.wantMax); !errors.Is(err, ErrFull) {
				t.Errorf("Do(…) with %d waiting = %v, want %v", tt.wantMax, err, ErrFull)
			}
			if got := fulls.Load(); got != 1 {
				t.Errorf("OnFull calls = %d, want 1", got)
			}
			b.Release()
			for range tt.wantMax {
				if err := <-errc; err != nil {
					t.Errorf("queued Do(…) = %v, want nil", err)
				}
			}
			checkIdle(t, b)
		})
	}
}

// TestWaitCancelMiddle cancels a waiter between two others: the queue
// keeps the other two, in order.
func TestWaitCancelMiddle(t *testing.T) {
	clk := callguardtest.NewClock()
	b := New(1, WithMaxWait(time.Second), WithClock(clk))
	fill(t, b)
	order := make(chan int, 3)
	run := func(i int) func(context.Context) error {
		return func(context.Context) error { order <- i; return nil }
	}
	ctx, cancel := context.WithCancel(context.Background())
	first := startDo(b, context.Background(), run(1))
	clk.BlockUntil(1)
	middle := startDo(b, ctx, run(2))
	clk.BlockUntil(2)
	last := startDo(b, context.Background(), run(3))
	clk.BlockUntil(3)
	cancel()
	if err := <-middle; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Do(…) = %v, want %v", err, context.Canceled)
	}
	b.Release()
	for _, errc := range []<-chan error{first, last} {
		if err := <-errc; err != nil {
			t.Errorf("Do(…) = %v, want nil", err)
		}
	}
	if a, z := <-order, <-order; a != 1 || z != 3 {
		t.Errorf("order = %d, %d; want 1, 3", a, z)
	}
	checkIdle(t, b)
}
