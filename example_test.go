package callguard_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/retry"
	"github.com/callguard/callguard/ttl"
)

// named returns a policy that prints its name around the rest of the
// pipeline.
func named(name string) callguard.Policy {
	return callguard.PolicyFunc(func(next callguard.Handler) callguard.Handler {
		return func(ctx context.Context, call func(context.Context) error) error {
			fmt.Println(name, "in")
			defer fmt.Println(name, "out")
			return next(ctx, call)
		}
	})
}

// The first policy given to Chain is the outermost.
func ExampleChain() {
	p := callguard.Chain(named("outer"), named("inner"))
	_ = p.Do(context.Background(), func(context.Context) error {
		fmt.Println("call")
		return nil
	})
	// Output:
	// outer in
	// inner in
	// call
	// inner out
	// outer out
}

// A Fallback outermost sees the final error, after every retry.
func ExampleFallback() {
	p := callguard.Chain(
		callguard.Fallback(func(ctx context.Context, err error) error {
			fmt.Println("fallback after:", err)
			return nil // handled: serve something else
		}),
		retry.New(retry.WithBackoff(0, 0), retry.WithMaxAttempts(2)),
	)
	err := p.Do(context.Background(), func(context.Context) error {
		fmt.Println("attempt")
		return errors.New("unavailable")
	})
	fmt.Println("Do:", err)
	// Output:
	// attempt
	// attempt
	// fallback after: retry: exhausted after 2 attempts (max attempts reached): unavailable
	// Do: <nil>
}

// Get returns the call's value through a pipeline.
func ExampleGet() {
	p := callguard.Chain(retry.New(retry.WithBackoff(0, 0)))
	tries := 0
	name, err := callguard.Get(context.Background(), p, func(context.Context) (string, error) {
		if tries++; tries == 1 {
			return "", errors.New("unavailable")
		}
		return "Ada", nil
	})
	fmt.Println(name, err, tries)
	// Output: Ada <nil> 2
}

// GetOr supplies a value when the call fails.
func ExampleGetOr() {
	p := callguard.Chain(retry.New(retry.WithBackoff(0, 0), retry.WithMaxAttempts(1)))
	price, err := callguard.GetOr(context.Background(), p,
		func(context.Context) (int, error) { return 0, errors.New("unavailable") },
		func(context.Context, error) (int, error) { return 99, nil }, // the last known price
	)
	fmt.Println(price, err)
	// Output: 99 <nil>
}

// CheckServer refuses a retry in a server's pipeline; the adapters call it
// when they are built.
func ExampleCheckServer() {
	in := callguard.Chain(ttl.New(ttl.WithService("orders")), retry.New())
	fmt.Println(callguard.CheckServer(in))
	fmt.Println(callguard.CheckClient(in) != nil)
	// Output:
	// callguard: retry (policy 2) in a server pipeline: a server that retries multiplies its callers' retries tier by tier; retry belongs in the pipeline of the calls the service makes
	// true
}
