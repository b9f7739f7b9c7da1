package ttl_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/callguard/callguard/ttl"
)

// A request that went gateway → orders → billing arrives back at orders:
// the TTL policy of orders refuses it before the handler runs.
func Example_loop() {
	ctx := ttl.Inbound(context.Background(), "13", "gateway,orders,billing")
	err := ttl.New(ttl.WithService("orders")).Do(ctx, func(context.Context) error {
		fmt.Println("handler ran")
		return nil
	})
	fmt.Println(err)
	fmt.Println(errors.Is(err, ttl.ErrLoop))
	// Output:
	// ttl: call loop: gateway → orders → billing → orders
	// true
}

func ExampleOutbound() {
	ctx := ttl.Inbound(context.Background(), "13", "gateway")
	_ = ttl.New(ttl.WithService("orders")).Do(ctx, func(ctx context.Context) error {
		hops, path, err := ttl.Outbound(ctx)
		fmt.Println(hops, path, err)
		return nil
	})
	// Output: 12 gateway,orders <nil>
}

// A request arrived with no hops left: the server's TTL serves it, but a
// client's Guard refuses the calls it would make, as the adapters do.
func ExampleGuard() {
	ctx := ttl.Inbound(context.Background(), "0", "gateway")
	_ = ttl.New(ttl.WithService("orders")).Do(ctx, func(ctx context.Context) error {
		fmt.Println("handler ran")
		err := ttl.NewGuard().Do(ctx, func(context.Context) error {
			fmt.Println("call sent")
			return nil
		})
		fmt.Println(err)
		return nil
	})
	// Output:
	// handler ran
	// ttl: hop budget exhausted
}
