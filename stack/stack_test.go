package stack_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/breaker"
	"github.com/callguard/callguard/bulkhead"
	"github.com/callguard/callguard/callguardtest"
	"github.com/callguard/callguard/retry"
	"github.com/callguard/callguard/stack"
	"github.com/callguard/callguard/timeout"
	"github.com/callguard/callguard/ttl"
)

var errBroken = errors.New("broken")

func TestChecks(t *testing.T) {
	if err := callguard.CheckClient(stack.Client()); err != nil {
		t.Errorf("CheckClient(Client()) = %v", err)
	}
	if err := callguard.CheckClient(stack.Client(stack.WithOverallTimeout(time.Second))); err != nil {
		t.Errorf("CheckClient(Client(WithOverallTimeout)) = %v", err)
	}
	if err := callguard.CheckServer(stack.Server("orders")); err != nil {
		t.Errorf("CheckServer(Server()) = %v", err)
	}
	if err := callguard.CheckServer(stack.Client()); !errors.Is(err, callguard.ErrMisuse) {
		t.Errorf("CheckServer(Client()) = %v, want ErrMisuse: a client stack retries", err)
	}
	if err := callguard.CheckClient(stack.Server("orders")); !errors.Is(err, callguard.ErrMisuse) {
		t.Errorf("CheckClient(Server()) = %v, want ErrMisuse: a server stack checks loops", err)
	}
}

func TestClientRetries(t *testing.T) {
	t.Parallel()
	p := stack.Client(stack.WithRetry(retry.WithBackoff(0, 0)))
	var calls atomic.Int32
	got, err := callguard.Get(context.Background(), p, func(context.Context) (string, error) {
		if calls.Add(1) == 1 {
			return "", errBroken
		}
		return "ok", nil
	})
	if got != "ok" || err != nil || calls.Load() != 2 {
		t.Errorf("Get(…) = %q, %v after %d calls, want ok, nil after 2", got, err, calls.Load())
	}
}

// TestClientAttemptTimeout: each attempt gets DefaultAttemptTimeout of the
// clock's time, and a timed-out attempt is retried after a backoff wait.
func TestClientAttemptTimeout(t *testing.T) {
	t.Parallel()
	clk := callguardtest.NewClock()
	delays := make(chan time.Duration, 1)
	p := stack.Client(stack.WithClock(clk), stack.WithRetry(retry.WithMaxAttempts(2),
		retry.OnRetry(func(_ context.Context, _ int, _ error, d time.Duration) { delays <- d })))
	deadlines := make(chan time.Time, 2)
	errc := make(chan error, 1)
	go func() {
		errc <- p.Do(context.Background(), func(ctx context.Context) error {
			d, _ := ctx.Deadline()
			deadlines <- d
			<-ctx.Done()
			return ctx.Err()
		})
	}()
	if got, want := <-deadlines, callguardtest.Start.Add(stack.DefaultAttemptTimeout); !got.Equal(want) {
		t.Errorf("first attempt's deadline = %v, want %v", got, want)
	}
	clk.Advance(stack.DefaultAttemptTimeout) // the attempt's timer was set before its call ran
	if d := <-delays; d > 0 {
		clk.BlockUntil(1) // retry's backoff wait
		clk.Advance(d)
	}
	d2 := <-deadlines
	if want := clk.Now().Add(stack.DefaultAttemptTimeout); !d2.Equal(want) {
		t.Errorf("second attempt's deadline = %v, want %v", d2, want)
	}
	clk.Advance(stack.DefaultAttemptTimeout)
	if err := <-errc; !errors.Is(err, timeout.ErrTimeout) || !errors.Is(err, retry.ErrExhausted) {
		t.Errorf("Do = %v, want retry.ErrExhausted wrapping timeout.ErrTimeout", err)
	}
}

// TestClientOverallTimeout: with an overall timeout on a fake clock, retry
// reads the call's deadline on the same clock, and retries within it.
func TestClientOverallTimeout(t *testing.T) {
	t.Parallel()
	clk := callguardtest.NewClock()
	p := stack.Client(stack.WithClock(clk), stack.WithOverallTimeout(time.Second), stack.WithRetry(retry.WithBackoff(0, 0)))
	calls := 0
	err := p.Do(context.Background(), func(context.Context) error {
		if calls++; calls == 1 {
			return errBroken
		}
		return nil
	})
	if err != nil || calls != 2 {
		t.Errorf("Do = %v after %d calls, want nil after 2", err, calls)
	}
}

func TestClientBreakerOpens(t *testing.T) {
	t.Parallel()
	p := stack.Client(stack.WithRetry(retry.WithMaxAttempts(1)), stack.WithName("payments"))
	var calls int
	fail := func(context.Context) error { calls++; return errBroken }
	for range 5 { // breaker's default: 5 consecutive failures
		if err := p.Do(context.Background(), fail); !errors.Is(err, errBroken) {
			t.Fatalf("Do = %v, want %v", err, errBroken)
		}
	}
	if err := p.Do(context.Background(), fail); !errors.Is(err, breaker.ErrOpen) {
		t.Errorf("Do after 5 failures = %v, want breaker.ErrOpen", err)
	}
	if calls != 5 {
		t.Errorf("call ran %d times, want 5: the open breaker refuses the sixth", calls)
	}
}

func TestClientBulkhead(t *testing.T) {
	t.Parallel()
	p := stack.Client(stack.WithMaxConcurrent(1))
	// Warm the throttle: it counts a call in flight as not accepted, so on a
	// cold pipeline it may refuse the second concurrent call itself.
	for range 10 {
		if err := p.Do(context.Background(), func(context.Context) error { return nil }); err != nil {
			t.Fatalf("Do = %v, want nil", err)
		}
	}
	entered, release := make(chan struct{}), make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		errc <- p.Do(context.Background(), func(context.Context) error {
			close(entered)
			<-release
			return nil
		})
	}()
	<-entered
	err := p.Do(context.Background(), func(context.Context) error { return nil })
	close(release)
	if !errors.Is(err, bulkhead.ErrFull) {
		t.Errorf("second Do while one runs = %v, want bulkhead.ErrFull", err)
	}
	if err := <-errc; err != nil {
		t.Errorf("first Do = %v, want nil", err)
	}
}

func TestServerLoop(t *testing.T) {
	t.Parallel()
	p := stack.Server("orders")
	ctx := ttl.Inbound(context.Background(), "5", "gateway,orders,billing")
	ran := false
	err := p.Do(ctx, func(context.Context) error { ran = true; return nil })
	var loop *ttl.LoopError
	if !errors.As(err, &loop) || ran {
		t.Errorf("Do = %v (handler ran: %v), want *ttl.LoopError before the handler", err, ran)
	}
	if err := p.Do(context.Background(), func(context.Context) error { return nil }); err != nil {
		t.Errorf("Do without a loop = %v, want nil", err)
	}
}

func TestServerTimeout(t *testing.T) {
	t.Parallel()
	clk := callguardtest.NewClock()
	p := stack.Server("orders", stack.WithClock(clk), stack.WithTimeout(time.Second))
	errc := make(chan error, 1)
	go func() {
		errc <- p.Do(context.Background(), func(ctx context.Context) error {
			<-ctx.Done()
			return ctx.Err()
		})
	}()
	clk.BlockUntil(1)
	clk.Advance(time.Second)
	if err := <-errc; !errors.Is(err, timeout.ErrTimeout) {
		t.Errorf("Do = %v, want timeout.ErrTimeout", err)
	}
}

func TestPanics(t *testing.T) {
	tests := []struct {
		name string
		give func()
		want string
	}{
		{"empty service", func() { stack.Server("") }, `stack: invalid service id ""`},
		{"negative timeout", func() { stack.Server("a", stack.WithTimeout(-1)) }, "stack: WithTimeout duration must be ≥ 0, got -1ns"},
		{"bulkhead", func() { stack.Client(stack.WithMaxConcurrent(0)) }, "bulkhead:"},
		{"retry", func() { stack.Client(stack.WithRetry(retry.WithMaxAttempts(0))) }, "retry:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				msg, _ := recover().(string)
				if len(msg) < len(tt.want) || msg[:len(tt.want)] != tt.want {
					t.Errorf("panic = %q, want it to start with %q", msg, tt.want)
				}
			}()
			tt.give()
		})
	}
}
