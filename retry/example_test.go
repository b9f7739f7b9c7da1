package retry_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/retry"
)

func Example() {
	r := retry.New(
		retry.WithBackoff(time.Millisecond, time.Millisecond), // tiny waits for the example
		retry.OnRetry(func(_ context.Context, attempt int, err error, _ time.Duration) {
			fmt.Printf("attempt %d failed: %v\n", attempt, err)
		}),
	)
	calls := 0
	err := r.Do(context.Background(), func(context.Context) error {
		calls++
		if calls < 3 {
			return errors.New("connection refused")
		}
		return nil
	})
	fmt.Println("calls:", calls, "err:", err)
	// Output:
	// attempt 1 failed: connection refused
	// attempt 2 failed: connection refused
	// calls: 3 err: <nil>
}

// An overloaded error without a pushback delay means "do not retry": Do
// returns it at once, unchanged.
func Example_overloaded() {
	r := retry.New()
	calls := 0
	err := r.Do(context.Background(), func(context.Context) error {
		calls++
		return callguard.Overloaded(0, errors.New("503 from payments"))
	})
	fmt.Println("calls:", calls)
	fmt.Println(err)
	// Output:
	// calls: 1
	// callguard: overloaded, do not retry: 503 from payments
}

func ExampleWithBudget() {
	// A budget of 2 tokens that each call tops up by 0.1, with no minimum rate.
	budget := retry.NewBudget(retry.WithRatio(0.1), retry.WithMinPerSecond(0), retry.WithMaxTokens(2))
	r := retry.New(retry.WithBudget(budget), retry.WithBackoff(0, 0))
	fail := func(context.Context) error { return errors.New("unavailable") }
	for i := 1; i <= 3; i++ {
		var ee *retry.ExhaustedError
		if errors.As(r.Do(context.Background(), fail), &ee) {
			fmt.Printf("call %d: attempts=%d (%v)\n", i, ee.Attempts, ee.Reason)
		}
	}
	fmt.Printf("tokens left: %.1f\n", budget.Available())
	// Output:
	// call 1: attempts=3 (max attempts reached)
	// call 2: attempts=1 (retry budget empty)
	// call 3: attempts=1 (retry budget empty)
	// tokens left: 0.2
}
