package hedge

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/callguardtest"
	"github.com/callguard/callguard/internal/race"
	"go.uber.org/goleak"
)

var _ callguard.Policy = (*Hedger)(nil)

var errBoom = errors.New("boom")

// always marks every call safe.
func always(context.Context) bool { return true }

// calls runs attempts: each attempt blocks until released with an outcome
// or until its context ends.
type calls struct {
	mu       sync.Mutex
	started  []int // attempt numbers, in order
	outcome  map[int]chan error
	canceled map[int]error // the context's cause when an attempt saw it end
	discards map[int]int
}

func newCalls() *calls {
	return &calls{outcome: map[int]chan error{}, canceled: map[int]error{}, discards: map[int]int{}}
}

func (c *calls) ch(n int) chan error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.outcome[n] == nil {
		c.outcome[n] = make(chan error, 1)
	}
	return c.outcome[n]
}

func (c *calls) fn(ctx context.Context) error {
	n, ok := Attempt(ctx)
	if !ok {
		n = 1
	}
	OnDiscard(ctx, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.discards[n]++
	})
	c.mu.Lock()
	c.started = append(c.started, n)
	c.mu.Unlock()
	select {
	case err := <-c.ch(n):
		return err
	case <-ctx.Done():
		c.mu.Lock()
		c.canceled[n] = context.Cause(ctx)
		c.mu.Unlock()
		return ctx.Err()
	}
}

func (c *calls) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.started)
}

// waitStarted polls until n attempts have started, failing after a
// generous bound.
func waitStarted(t *testing.T, c *calls, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for c.count() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d attempts started, want %d (gave up waiting)", c.count(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// start runs h.Do(ctx, c.fn) on a goroutine and returns its result channel.
func start(h *Hedger, ctx context.Context, c *calls) chan error {
	res := make(chan error, 1)
	go func() { res <- h.Do(ctx, c.fn) }()
	return res
}

func recvErr(t *testing.T, res chan error) error {
	t.Helper()
	select {
	case err := <-res:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Do did not return after 10s")
		return nil
	}
}

func TestNoHedgeWhenFast(t *testing.T) {
	fake := callguardtest.NewClock()
	h := New(WithSafe(always), WithDelay(time.Second), WithClock(fake))
	c := newCalls()
	c.ch(1) <- nil
	if err := h.Do(context.Background(), c.fn); err != nil {
		t.Fatalf("Do(…) = %v, want nil", err)
	}
	if n := c.count(); n != 1 {
		t.Errorf("attempts = %d, want 1", n)
	}
	if n := fake.Timers(); n != 0 {
		t.Errorf("timers left = %d, want 0", n)
	}
}

func TestHedgeWins(t *testing.T) {
	fake := callguardtest.NewClock()
	var hedges []int
	h := New(WithSafe(always), WithDelay(time.Second), WithClock(fake),
		OnHedge(func(_ context.Context, n int) { hedges = append(hedges, n) }))
	c := newCalls()
	res := start(h, context.Background(), c)
	fake.BlockUntil(1)
	fake.Advance(time.Second)
	waitStarted(t, c, 2)
	c.ch(2) <- nil // the hedge answers; the first attempt still hangs
	if err := recvErr(t, res); err != nil {
		t.Fatalf("Do(…) = %v, want nil", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if got := c.canceled[1]; got != errLost {
		t.Errorf("first attempt's cause = %v, want %v", got, errLost)
	}
	if c.discards[1] != 1 || c.discards[2] != 0 {
		t.Errorf("discards = %v, want the first attempt's only", c.discards)
	}
	if fmt.Sprint(hedges) != "[2]" {
		t.Errorf("OnHedge attempts = %v, want [2]", hedges)
	}
}

func TestFirstWinsAfterHedge(t *testing.T) {
	fake := callguardtest.NewClock()
	h := New(WithSafe(always), WithDelay(time.Second), WithClock(fake))
	c := newCalls()
	res := start(h, context.Background(), c)
	fake.BlockUntil(1)
	fake.Advance(time.Second)
	waitStarted(t, c, 2)
	c.ch(1) <- nil
	if err := recvErr(t, res); err != nil {
		t.Fatalf("Do(…) = %v, want nil", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.canceled[2] != errLost || c.discards[2] != 1 || c.discards[1] != 0 {
		t.Errorf("cancelled %v, discards %v; want the hedge cancelled and discarded", c.canceled, c.discards)
	}
}

func TestMaxHedges(t *testing.T) {
	tests := []struct {
		giveMax      int
		wantAttempts int
	}{{0, 1}, {1, 2}, {3, 4}}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.giveMax), func(t *testing.T) {
			fake := callguardtest.NewClock()
			h := New(WithSafe(always), WithDelay(time.Second), WithClock(fake), WithMaxHedges(tt.giveMax))
			c := newCalls()
			res := start(h, context.Background(), c)
			for i := 2; i <= tt.wantAttempts; i++ {
				fake.BlockUntil(1)
				fake.Advance(time.Second)
				waitStarted(t, c, i)
			}
			fake.Advance(time.Hour) // no further hedge, timer or not
			c.ch(tt.wantAttempts) <- errBoom
			for i := 1; i < tt.wantAttempts; i++ {
				c.ch(i) <- errBoom
			}
			if err := recvErr(t, res); err != errBoom {
				t.Fatalf("Do(…) = %v, want %v", err, errBoom)
			}
			if n := c.count(); n != tt.wantAttempts {
				t.Errorf("attempts = %d, want %d", n, tt.wantAttempts)
			}
			c.mu.Lock()
			defer c.mu.Unlock()
			discarded := 0
			for _, n := range c.discards {
				discarded += n
			}
			if tt.giveMax > 0 && discarded != tt.wantAttempts-1 {
				t.Errorf("discards = %v, want all attempts but one", c.discards)
			}
		})
	}
}

func TestFailureWaitsForOthers(t *testing.T) {
	fake := callguardtest.NewClock()
	h := New(WithSafe(always), WithDelay(time.Second), WithClock(fake))
	c := newCalls()
	res := start(h, context.Background(), c)
	fake.BlockUntil(1)
	fake.Advance(time.Second)
	waitStarted(t, c, 2)
	c.ch(1) <- errBoom // the first fails; the hedge still runs and succeeds
	select {
	case err := <-res:
		t.Fatalf("Do returned %v while the hedge ran", err)
	default:
	}
	c.ch(2) <- nil
	if err := recvErr(t, res); err != nil {
		t.Fatalf("Do(…) = %v, want nil", err)
	}
}

func TestFailureBeforeDelay(t *testing.T) {
	fake := callguardtest.NewClock()
	h := New(WithSafe(always), WithDelay(time.Second), WithClock(fake))
	c := newCalls()
	c.ch(1) <- errBoom
	if err := h.Do(context.Background(), c.fn); err != errBoom {
		t.Fatalf("Do(…) = %v, want %v", err, errBoom)
	}
	if n := c.count(); n != 1 {
		t.Errorf("attempts = %d, want 1 (a failure is not hedged)", n)
	}
}

func TestNotSafeRunsOnce(t *testing.T) {
	fake := callguardtest.NewClock()
	h := New(WithDelay(0), WithClock(fake)) // default predicate: the context mark
	ran := 0
	if err := h.Do(context.Background(), func(ctx context.Context) error {
		ran++
		if _, ok := Attempt(ctx); ok {
			t.Error("Attempt(ctx) ok for a call that is not hedged")
		}
		if OnDiscard(ctx, func() {}) {
			t.Error("OnDiscard(ctx) = true for a call that is not hedged")
		}
		return nil
	}); err != nil || ran != 1 {
		t.Fatalf("Do(…) = %v, ran %d; want nil, 1", err, ran)
	}
	c := newCalls()
	res := start(h, ContextSafe(context.Background()), c)
	waitStarted(t, c, 2) // delay 0: the hedge starts at once
	c.ch(2) <- nil
	if err := recvErr(t, res); err != nil {
		t.Fatalf("safe Do(…) = %v, want nil", err)
	}
}

func TestBudget(t *testing.T) {
	fake := callguardtest.NewClock()
	// One hedge in the bucket, and each call earns half a hedge.
	h := New(WithSafe(always), WithDelay(time.Second), WithClock(fake), WithBudget(0.5, 1))
	wantAttempts := []int{2, 1, 2, 1} // full, empty (+0.5), refilled (+0.5 → 1), empty
	for i, want := range wantAttempts {
		c := newCalls()
		res := start(h, context.Background(), c)
		fake.BlockUntil(1)
		fake.Advance(time.Second)
		if want == 2 {
			waitStarted(t, c, 2)
		}
		c.ch(1) <- nil
		if err := recvErr(t, res); err != nil {
			t.Fatalf("call %d: Do(…) = %v, want nil", i, err)
		}
		if n := c.count(); n != want {
			t.Errorf("call %d: attempts = %d, want %d", i, n, want)
		}
	}
}

func TestPanic(t *testing.T) {
	h := New(WithSafe(always), WithDelay(0))
	var canceled atomic.Bool
	defer func() {
		if r := recover(); r != errBoom {
			t.Errorf("recover() = %v, want %v", r, errBoom)
		}
		if !canceled.Load() {
			t.Error("the other attempt was not cancelled")
		}
	}()
	_ = h.Do(context.Background(), func(ctx context.Context) error {
		if n, _ := Attempt(ctx); n == 2 {
			panic(errBoom)
		}
		<-ctx.Done()
		canceled.Store(true)
		return ctx.Err()
	})
	t.Error("Do returned, want a panic")
}

func TestDoneContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	h := New(WithSafe(always))
	ran := false
	if err := h.Do(ctx, func(context.Context) error { ran = true; return nil }); err != context.Canceled || ran {
		t.Errorf("Do(…) = %v, ran %t; want %v, false", err, ran, context.Canceled)
	}
}

func TestQuantileDelay(t *testing.T) {
	fake := callguardtest.NewClock()
	h := New(WithSafe(always), WithQuantile(0.9, 10, time.Hour), WithClock(fake), WithBudget(0, 0)) // no hedge: fn moves the clock
	if got := h.Delay(); got != time.Hour {
		t.Fatalf("Delay() before samples = %v, want 1h", got)
	}
	for i := 1; i <= 10; i++ { // latencies 1ms .. 10ms
		if err := h.Do(context.Background(), func(context.Context) error {
			fake.Advance(time.Duration(i) * time.Millisecond)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if i == 1 { // refresh every window/10 = 1 sample
			if got := h.Delay(); got != time.Millisecond {
				t.Fatalf("Delay() after one sample = %v, want 1ms", got)
			}
		}
	}
	if got := h.Delay(); got != 9*time.Millisecond {
		t.Errorf("Delay() = %v, want the 0.9 quantile 9ms", got)
	}
	for range 10 { // the window forgets: ten samples of 1 s replace them
		_ = h.Do(context.Background(), func(context.Context) error { fake.Advance(time.Second); return nil })
	}
	if got := h.Delay(); got != time.Second {
		t.Errorf("Delay() after the window moved = %v, want 1s", got)
	}
}

func TestWindowQuantile(t *testing.T) {
	tests := []struct {
		q    float64
		n    int
		want time.Duration
	}{{0.5, 100, 50}, {0.95, 100, 95}, {0.99, 100, 99}, {0.999, 100, 100}, {0.01, 100, 1}, {0.95, 1, 1}}
	for _, tt := range tests {
		w := newWindow(tt.q, tt.n)
		for i := tt.n; i >= 1; i-- { // any order
			w.add(time.Duration(i))
		}
		if got, ok := w.quantile(); !ok || got != tt.want {
			t.Errorf("quantile(%v) of 1..%d = %v, %t; want %v", tt.q, tt.n, got, ok, tt.want)
		}
	}
}

func TestNewPanics(t *testing.T) {
	tests := []struct {
		name string
		give Option
		want string
	}{
		{"negative delay", WithDelay(-1), "hedge: delay must be >= 0, got -1ns"},
		{"quantile 1", WithQuantile(1, 10, 0), "hedge: quantile must be in (0, 1), got 1"},
		{"window 0", WithQuantile(0.5, 0, 0), "hedge: window must be in [1, 1048576] samples, got 0"},
		{"max hedges", WithMaxHedges(11), "hedge: max hedges must be in [0, 10], got 11"},
		{"ratio", WithBudget(-0.1, 1), "hedge: budget ratio must be in [0, 1], got -0.1"},
		{"burst", WithBudget(0.1, -1), "hedge: budget burst must be in [0, 1e6], got -1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if r := recover(); fmt.Sprint(r) != tt.want {
					t.Errorf("New panicked with %v, want %q", r, tt.want)
				}
			}()
			New(tt.give)
		})
	}
}

func TestHammer(t *testing.T) {
	t.Parallel()
	var hedges atomic.Int64
	h := New(WithSafe(always), WithDelay(0), WithMaxHedges(2), WithBudget(0.5, 5),
		OnHedge(func(context.Context, int) { hedges.Add(1) }))
	var wg sync.WaitGroup
	var calls, discards atomic.Int64
	for g := range 8 {
		wg.Go(func() {
			for i := range 300 {
				err := h.Do(context.Background(), func(ctx context.Context) error {
					OnDiscard(ctx, func() { discards.Add(1) })
					if n, _ := Attempt(ctx); n == 1 { // slow enough for the hedges to start
						select {
						case <-ctx.Done():
						case <-time.After(200 * time.Microsecond):
						}
					}
					if (g+i)%4 == 0 {
						return errBoom
					}
					return nil
				})
				calls.Add(1)
				if err != nil && err != errBoom {
					t.Errorf("Do(…) = %v, want nil or %v", err, errBoom)
					return
				}
			}
		})
	}
	wg.Wait()
	n, hd := calls.Load(), hedges.Load()
	if hd == 0 || float64(hd) > 0.5*float64(n)+5 {
		t.Errorf("hedges = %d over %d calls, want in [1, %v]", hd, n, 0.5*float64(n)+5)
	}
	if got := discards.Load(); got != hd {
		t.Errorf("discards = %d, want one per hedge (%d)", got, hd)
	}
}

func TestPassThroughAllocs(t *testing.T) {
	if testing.Short() || race.Enabled {
		t.Skip("alloc guard: skipped in short mode and under -race")
	}
	h := New()
	ctx := context.Background()
	fn := func(context.Context) error { return nil }
	if n := testing.AllocsPerRun(100, func() { _ = h.Do(ctx, fn) }); n != 0 {
		t.Errorf("Do allocs for a call that is not safe = %v, want 0", n)
	}
}

// TestNoGoroutineOutlivesCall: when Do returns, every attempt it started
// has returned (their goroutines only have to exit).
func TestNoGoroutineOutlivesCall(t *testing.T) {
	h := New(WithSafe(always), WithDelay(0), WithMaxHedges(3), WithBudget(1, 10))
	var running atomic.Int32
	err := h.Do(context.Background(), func(ctx context.Context) error {
		running.Add(1)
		defer running.Add(-1)
		if n, _ := Attempt(ctx); n == 4 {
			return nil
		}
		<-ctx.Done()
		time.Sleep(time.Millisecond) // a loser slow to notice
		return ctx.Err()
	})
	if err != nil {
		t.Fatalf("Do(…) = %v, want nil", err)
	}
	if n := running.Load(); n != 0 {
		t.Errorf("%d attempts still running after Do returned", n)
	}
	goleak.VerifyNone(t)
}
