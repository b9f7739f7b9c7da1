package breakerbalancer_test

import (
	"fmt"
	"time"

	"github.com/callguard/callguard/breaker"
	"github.com/callguard/callguard/grpcx/breakerbalancer"
	"google.golang.org/grpc/balancer"
)

// A balancer with breakers that open after 3 failures in a row and probe
// after 10 s, registered under a name of its own; clients select it in
// their service config.
func ExampleNewBuilder() {
	b := breakerbalancer.NewBuilder("payments_breaker_rr",
		breakerbalancer.WithBreaker(breaker.WithConsecutiveFailures(3), breaker.WithOpenTimeout(10*time.Second)))
	balancer.Register(b)
	fmt.Printf(`{"loadBalancingConfig": [{%q: {}}]}`+"\n", b.Name())
	// Output:
	// {"loadBalancingConfig": [{"payments_breaker_rr": {}}]}
}
