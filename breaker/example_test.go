package breaker_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/callguard/callguard/breaker"
)

func Example() {
	cb := breaker.New(
		breaker.WithName("payments"),
		breaker.WithConsecutiveFailures(3),
		breaker.OnStateChange(func(name string, from, to breaker.State) {
			fmt.Printf("%s: %v -> %v\n", name, from, to)
		}),
	)
	errDown := errors.New("payments: connection refused")
	calls := 0
	call := func(context.Context) error {
		calls++
		return errDown
	}

	for i := 1; i <= 5; i++ {
		err := cb.Do(context.Background(), call)
		fmt.Printf("call %d: %v (open: %t)\n", i, err, errors.Is(err, breaker.ErrOpen))
	}
	fmt.Println("state:", cb.State(), "- payments was called", calls, "times")
	// Output:
	// call 1: payments: connection refused (open: false)
	// call 2: payments: connection refused (open: false)
	// payments: closed -> open
	// call 3: payments: connection refused (open: false)
	// call 4: breaker: circuit open (open: true)
	// call 5: breaker: circuit open (open: true)
	// state: open - payments was called 3 times
}

func ExampleBreaker_ForceOpen() {
	cb := breaker.New(breaker.WithName("payments"),
		breaker.OnStateChange(func(name string, from, to breaker.State) {
			fmt.Printf("%s: %v -> %v\n", name, from, to)
		}))
	call := func(context.Context) error { return nil }

	cb.ForceOpen() // an incident: stop calling payments
	fmt.Println(cb.Do(context.Background(), call))
	cb.Resume()
	fmt.Println(cb.Do(context.Background(), call))
	// Output:
	// payments: closed -> forced-open
	// breaker: circuit open
	// payments: forced-open -> closed
	// <nil>
}

func ExampleKeyed() {
	// One breaker per backend, at most 1000 backends, dropped after 10
	// minutes unused.
	k := breaker.NewKeyed(1000, 10*time.Minute, breaker.WithConsecutiveFailures(2),
		breaker.OnStateChange(func(name string, from, to breaker.State) {
			fmt.Printf("%s: %v -> %v\n", name, from, to)
		}))
	errDown := errors.New("connection refused")
	for range 3 {
		_ = k.Do(context.Background(), "10.0.0.2:443", func(context.Context) error { return errDown })
	}
	fmt.Println(k.Do(context.Background(), "10.0.0.1:443", func(context.Context) error { return nil }))
	fmt.Println(k.Get("10.0.0.2:443").State(), k.Get("10.0.0.1:443").State())
	// Output:
	// 10.0.0.2:443: closed -> open
	// <nil>
	// open closed
}
