package chaos_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/chaos"
	"github.com/callguard/callguard/retry"
)

// A Chaos innermost stands for a failing dependency: here every attempt
// fails, and retry gives up after three.
func Example() {
	monkey := chaos.New(chaos.WithError(1, nil))
	p := callguard.Chain(retry.New(retry.WithBackoff(0, 0)), monkey)
	calls := 0
	call := func(context.Context) error { calls++; return nil }

	fmt.Println(p.Do(context.Background(), call), calls) // off by default
	monkey.Enable()
	err := p.Do(context.Background(), call)
	fmt.Println(errors.Is(err, chaos.ErrInjected), errors.Is(err, retry.ErrExhausted), calls)
	// Output:
	// <nil> 1
	// true true 1
}
