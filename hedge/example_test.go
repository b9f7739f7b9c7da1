package hedge_test

import (
	"context"
	"fmt"
	"time"

	"github.com/callguard/callguard/hedge"
)

func Example() {
	h := hedge.New(hedge.WithDelay(10 * time.Millisecond))
	ctx := hedge.ContextSafe(context.Background()) // a read: safe to send twice

	err := h.Do(ctx, func(ctx context.Context) error {
		if n, _ := hedge.Attempt(ctx); n == 1 {
			<-ctx.Done() // the first copy hangs until the hedge has answered
			fmt.Println("attempt 1:", context.Cause(ctx))
			return ctx.Err()
		}
		fmt.Println("attempt 2: answered")
		return nil
	})
	fmt.Println("call:", err)
	// Output:
	// attempt 2: answered
	// attempt 1: hedge: another attempt answered first
	// call: <nil>
}

func ExampleOnDiscard() {
	h := hedge.New(hedge.WithDelay(0), hedge.WithSafe(func(context.Context) bool { return true }))
	results := make([]string, 3) // one slot per attempt; the adapter's own bookkeeping

	err := h.Do(context.Background(), func(ctx context.Context) error {
		n, _ := hedge.Attempt(ctx)
		results[n] = fmt.Sprintf("response %d", n)
		hedge.OnDiscard(ctx, func() { results[n] = "" }) // drain and close it
		if n == 1 {
			<-ctx.Done()
		}
		return nil
	})
	fmt.Println(err, results[1:])
	// Output:
	// <nil> [ response 2]
}
