package timeout_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/callguard/callguard/timeout"
)

func Example() {
	t := timeout.New(10 * time.Millisecond)

	err := t.Do(context.Background(), func(ctx context.Context) error {
		<-ctx.Done() // a slow call that honours its context
		return ctx.Err()
	})
	fmt.Println(err)
	fmt.Println(errors.Is(err, timeout.ErrTimeout), errors.Is(err, context.DeadlineExceeded))
	// Output:
	// timeout: deadline exceeded
	// true true
}

// A caller whose own deadline is sooner keeps it, and its errors are its
// own: the timeout did not fire.
func Example_callerDeadline() {
	t := timeout.New(time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()

	err := t.Do(ctx, func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	})
	fmt.Println(err)
	fmt.Println(errors.Is(err, timeout.ErrTimeout))
	// Output:
	// context deadline exceeded
	// false
}

// With WithAbandon, Do returns at the deadline even when the call ignores
// its context; the call goes on in its goroutine until it returns.
func ExampleWithAbandon() {
	t := timeout.New(10*time.Millisecond, timeout.WithAbandon())
	release, finished := make(chan struct{}), make(chan struct{})

	err := t.Do(context.Background(), func(context.Context) error {
		defer close(finished)
		<-release // ignores its context
		return nil
	})
	fmt.Println(err)

	close(release)
	<-finished // the abandoned call ends only now
	fmt.Println("abandoned call finished")
	// Output:
	// timeout: deadline exceeded
	// abandoned call finished
}
