package otelcallguard_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/breaker"
	"github.com/callguard/callguard/bulkhead"
	"github.com/callguard/callguard/hedge"
	"github.com/callguard/callguard/loadshed"
	"github.com/callguard/callguard/observe"
	"github.com/callguard/callguard/retry"
)

var errDown = errors.New("downstream down")

func fail(context.Context) error { return errDown }
func ok(context.Context) error   { return nil }

// exercise drives one instance of each kind so that every instrument has a
// value: a breaker "payments" opens and refuses a call, a retry policy
// makes attempts, a bulkhead "db" and a limiter "api" refuse a sheddable
// call, a budget is watched, a hedging policy "search" hedges once.
func exercise(t *testing.T, o *observe.Observer) {
	t.Helper()
	ctx := callguard.ContextWithRequestID(context.Background(), "req-1")
	budget := retry.NewBudget(retry.WithMinPerSecond(0), retry.WithMaxTokens(10)) // no refill by time: a fixed value to read
	o.WatchBudget("payments", budget)
	cb := breaker.New(append(o.Breaker("payments"), breaker.WithConsecutiveFailures(2), breaker.WithOpenTimeout(time.Hour))...)
	p := callguard.Chain(
		o.Watch("payments", retry.New(append(o.Retry("payments"), retry.WithBudget(budget), retry.WithBackoff(time.Microsecond, time.Microsecond))...)),
		o.Watch("payments", cb),
	)
	if err := p.Do(ctx, fail); err == nil {
		t.Fatal("Do(fail) = nil, want an error")
	}
	if cb.State() != breaker.Open {
		t.Fatalf("breaker state = %v, want open", cb.State())
	}

	sheddable := loadshed.NewContext(ctx, loadshed.Sheddable)
	bh := bulkhead.New(1)
	wb := o.Watch("db", bh)
	bh.TryAcquire()
	if err := wb.Do(sheddable, ok); !errors.Is(err, bulkhead.ErrFull) {
		t.Fatalf("bulkhead Do = %v, want ErrFull", err)
	}
	lim := loadshed.New(append(o.Limiter("api"), loadshed.WithFixedLimit(1))...)
	wl := o.Watch("api", lim)
	tok, err := lim.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := wl.Do(sheddable, ok); !errors.Is(err, loadshed.ErrShed) {
		t.Fatalf("limiter Do = %v, want ErrShed", err)
	}
	tok.Release(loadshed.OutcomeOf(nil))

	h := o.Watch("search", hedge.New(append(o.Hedge("search"), hedge.WithDelay(time.Millisecond))...))
	if err := h.Do(hedge.ContextSafe(ctx), func(ctx context.Context) error {
		if n, _ := hedge.Attempt(ctx); n >= 2 {
			return nil
		}
		<-ctx.Done() // the first attempt waits until the hedge wins, however long it takes
		return ctx.Err()
	}); err != nil {
		t.Fatalf("hedge Do = %v, want nil", err)
	}
}
