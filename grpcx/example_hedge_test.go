package grpcx_test

import (
	"fmt"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/grpcx"
	"github.com/callguard/callguard/hedge"
	"github.com/callguard/callguard/retry"
)

// A client that hedges the calls of one read method, inside its retry;
// every other method is sent once per attempt.
func ExampleWithIdempotent() {
	p := callguard.Chain(retry.New(), hedge.New())
	opts := grpcx.DialOptions(p, grpcx.WithIdempotent("/shop.Catalog/GetItem"))
	fmt.Println(len(opts), "dial options") // pass them to grpc.NewClient
	// Output: 3 dial options
}
