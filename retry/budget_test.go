package retry

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callguard/callguard/callguardtest"
)

func TestBudgetDefaults(t *testing.T) {
	b := NewBudget(WithClock(callguardtest.NewClock()))
	if got := b.Available(); got != 100 {
		t.Errorf("Available() = %v, want 100", got)
	}
	if got := b.Capacity(); got != 100 {
		t.Errorf("Capacity() = %v, want 100", got)
	}
	if got := NewBudget(WithMinPerSecond(0)).Capacity(); got != 10 {
		t.Errorf("Capacity() without a minimum rate = %v, want 10", got)
	}
	if got := NewBudget(WithMinPerSecond(50)).Capacity(); got != 500 {
		t.Errorf("Capacity() at 50/s = %v, want 500", got)
	}
}

func TestBudgetTokens(t *testing.T) {
	clk := callguardtest.NewClock()
	b := NewBudget(WithClock(clk))
	for i := range 100 {
		if !b.withdraw() {
			t.Fatalf("withdraw #%d = false, want true", i+1)
		}
	}
	if b.withdraw() {
		t.Fatalf("withdraw from an empty budget = true, want false")
	}
	for range 10 {
		b.deposit() // 10 calls earn one retry
	}
	if !b.withdraw() || b.withdraw() {
		t.Fatalf("after 10 deposits: want exactly one withdraw")
	}
	for range 100 {
		clk.Advance(time.Millisecond) // 10/s: 100 × 1ms earn one retry
		if got := b.Available(); got > 1 {
			t.Fatalf("Available() = %v, want <= 1", got)
		}
	}
	if got := b.Available(); got != 1 {
		t.Errorf("after 100ms: Available() = %v, want 1", got)
	}
	clk.Advance(time.Hour)
	if got := b.Available(); got != 100 {
		t.Errorf("after an hour: Available() = %v, want the capacity 100", got)
	}
	for range 1000 {
		b.deposit()
	}
	if got := b.Available(); got != 100 {
		t.Errorf("after deposits into a full budget: Available() = %v, want 100", got)
	}
}

func TestBudgetZeroValue(t *testing.T) {
	var b Budget
	b.deposit()
	if b.withdraw() || b.Available() != 0 {
		t.Errorf("zero Budget allows a retry, want none")
	}
}

func TestNewBudgetPanics(t *testing.T) {
	tests := []struct {
		name string
		give BudgetOption
		want string
	}{
		{"negative ratio", WithRatio(-0.1), "retry: budget ratio must be in [0, 1000], got -0.1"},
		{"huge ratio", WithRatio(1001), "retry: budget ratio must be in [0, 1000], got 1001"},
		{"NaN ratio", WithRatio(nan()), "retry: budget ratio must be in [0, 1000], got NaN"},
		{"negative rate", WithMinPerSecond(-1), "retry: budget min per second must be in [0, 1e9], got -1"},
		{"max tokens", WithMaxTokens(0.5), "retry: budget max tokens must be in [1, 1e12], got 0.5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if got := recover(); got != tt.want {
					t.Errorf("NewBudget panicked with %v, want %q", got, tt.want)
				}
			}()
			NewBudget(tt.give)
		})
	}
}

func nan() float64 { var zero float64; return zero / zero }

// TestBudgetSustainedFailure runs 1000 calls that always fail, one every
// 10ms of fake time, and checks that the retries stay within the budget:
// retries ≤ ratio·calls + capacity + minRate·elapsed.
func TestBudgetSustainedFailure(t *testing.T) {
	const (
		calls = 1000
		every = 10 * time.Millisecond
		ratio = 0.1
		rate  = 10.0
	)
	clk := callguardtest.NewClock()
	budget := NewBudget(WithClock(clk), WithRatio(ratio), WithMinPerSecond(rate))
	r := New(WithBackoff(0, 0), WithBudget(budget), WithClock(clk))
	fn, attempts := failing(-1, errBoom)
	stopped := 0
	retriesInSecondHalf := int32(0)
	for i := range calls {
		before := attempts.Load()
		var ee *ExhaustedError
		if err := r.Do(context.Background(), fn); errors.As(err, &ee) && ee.Reason == StopBudget {
			stopped++
		}
		if i >= calls/2 {
			retriesInSecondHalf += attempts.Load() - before - 1
		}
		clk.Advance(every)
	}
	elapsed := (calls * every).Seconds()
	retries := float64(attempts.Load() - calls)
	bound := ratio*calls + budget.Capacity() + rate*elapsed
	if retries > bound {
		t.Errorf("retries = %v, want <= %v", retries, bound)
	}
	// Every token is spent, since calls always want retries.
	if floor := ratio*calls + rate*elapsed; retries < floor {
		t.Errorf("retries = %v, want >= %v: the budget is stingier than configured", retries, floor)
	}
	// Once the initial burst is spent, retries track the ratio and the rate.
	if half := ratio*calls/2 + rate*elapsed/2 + 1; float64(retriesInSecondHalf) > half {
		t.Errorf("retries in the second half = %d, want <= %v", retriesInSecondHalf, half)
	}
	if stopped == 0 {
		t.Errorf("no call stopped for the budget")
	}
	t.Logf("%d calls, %v retries (%.2f per call), %d stopped by the budget", calls, retries, retries/calls, stopped)
}

// TestBudgetHammer shares one budget between goroutines that deposit and
// withdraw while time moves, and checks it never grants more than earned.
func TestBudgetHammer(t *testing.T) {
	t.Parallel()
	const (
		workers = 8
		ops     = 5000
		ratio   = 0.5
		rate    = 100.0
	)
	clk := callguardtest.NewClock()
	b := NewBudget(WithClock(clk), WithRatio(ratio), WithMinPerSecond(rate), WithMaxTokens(10))
	var granted, deposits atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range ops {
				b.deposit()
				deposits.Add(1)
				if i%2 == 0 && b.withdraw() {
					granted.Add(1)
				}
				if got := b.Available(); got < 0 || got > 10 {
					t.Errorf("Available() = %v, want within [0, 10]", got)
					return
				}
			}
		})
	}
	start := clk.Now()
	wg.Go(func() {
		for range 100 {
			clk.Advance(time.Millisecond)
		}
	})
	wg.Wait()
	elapsed := clk.Now().Sub(start).Seconds()
	bound := 10 + ratio*float64(deposits.Load()) + rate*elapsed
	if got := float64(granted.Load()); got > bound {
		t.Errorf("granted %v retries, want <= %v", got, bound)
	}
}

// TestDoBudgetHammer shares a budget between concurrent always-failing
// calls and checks the retries against the budget's bound.
func TestDoBudgetHammer(t *testing.T) {
	t.Parallel()
	const (
		workers = 8
		calls   = 500
	)
	budget := NewBudget(WithMinPerSecond(0), WithClock(callguardtest.NewClock()))
	fn, attempts := failing(-1, errBoom)
	var wg sync.WaitGroup
	for range workers {
		r := New(WithBackoff(0, 0), WithBudget(budget))
		wg.Go(func() {
			for range calls {
				if err := r.Do(context.Background(), fn); !errors.Is(err, errBoom) {
					t.Errorf("Do(…) = %v, want %v", err, errBoom)
					return
				}
			}
		})
	}
	wg.Wait()
	n := workers * calls
	retries := float64(attempts.Load()) - float64(n)
	if bound := DefaultRatio*float64(n) + budget.Capacity(); retries > bound {
		t.Errorf("retries = %v, want <= %v", retries, bound)
	}
}
