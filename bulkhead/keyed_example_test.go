package bulkhead_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/callguard/callguard/bulkhead"
)

func ExampleKeyed() {
	// At most one call at a time per backend: a slow backend fills its
	// own slot, not the others'.
	k := bulkhead.NewKeyed(1000, 10*time.Minute, 1)
	err := k.Do(context.Background(), "10.0.0.2:443", func(ctx context.Context) error {
		inner := k.Do(ctx, "10.0.0.2:443", func(context.Context) error { return nil })
		fmt.Println("same backend:", errors.Is(inner, bulkhead.ErrFull))
		other := k.Do(ctx, "10.0.0.1:443", func(context.Context) error { return nil })
		fmt.Println("other backend:", other)
		return nil
	})
	fmt.Println(err)
	// Output:
	// same backend: true
	// other backend: <nil>
	// <nil>
}
