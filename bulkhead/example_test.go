package bulkhead_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/callguard/callguard/bulkhead"
)

func Example() {
	b := bulkhead.New(1) // one call at a time, no waiting
	ctx := context.Background()

	err := b.Do(ctx, func(ctx context.Context) error {
		// While this call holds the only slot, another is refused at once.
		err := b.Do(ctx, func(context.Context) error { return nil })
		fmt.Println("second call:", err, errors.Is(err, bulkhead.ErrFull))
		return nil
	})
	fmt.Println("first call:", err)
	// Output:
	// second call: bulkhead: full true
	// first call: <nil>
}

func ExampleWithMaxWait() {
	b := bulkhead.New(1, bulkhead.WithMaxWait(time.Second))
	b.TryAcquire()                                   // someone holds the only slot…
	t := time.AfterFunc(time.Millisecond, b.Release) // …and lets go of it soon
	defer t.Stop()

	err := b.Do(context.Background(), func(context.Context) error {
		fmt.Println("ran after waiting for the slot")
		return nil
	})
	fmt.Println(err)
	// Output:
	// ran after waiting for the slot
	// <nil>
}

func ExampleBulkhead_TryAcquire() {
	b := bulkhead.New(2)
	serve := func(name string) {
		if !b.TryAcquire() {
			fmt.Println(name, "refused: 503")
			return
		}
		// Held until the work ends; in a real adapter, defer b.Release().
		fmt.Println(name, "admitted, in flight:", b.InFlight())
	}
	serve("a")
	serve("b")
	serve("c")
	b.Release()
	b.Release()
	fmt.Println("in flight:", b.InFlight(), "of", b.Limit())
	// Output:
	// a admitted, in flight: 1
	// b admitted, in flight: 2
	// c refused: 503
	// in flight: 0 of 2
}
