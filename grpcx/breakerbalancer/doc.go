// Package breakerbalancer is a gRPC load balancer that keeps a circuit
// breaker per backend: round robin over the ready backends, skipping those
// whose breaker is open, so that one failing copy of a service stops
// getting calls while the healthy copies take them. A client interceptor
// cannot do this, since it does not see which backend a call goes to.
//
// Importing the package registers a balancer named [Name] with the
// defaults of [breaker.New]; [NewBuilder] makes one with other settings
// and another name. A client selects it by service config:
//
//	conn, err := grpc.NewClient("dns:///payments:443",
//		grpc.WithDefaultServiceConfig(`{"loadBalancingConfig": [{"callguard_breaker_round_robin": {}}]}`),
//		...)
//
// # What counts
//
// Each RPC's status updates its backend's breaker: Unavailable, Internal,
// Unknown, DataLoss and DeadlineExceeded are failures of the backend; a
// cancellation and ResourceExhausted (the backend shed the call: it is
// alive) count as neither; every other code is a success, since the
// backend answered. [WithIsFailure] changes the rule. When every ready
// backend's breaker is open, the RPC fails at once with Unavailable.
//
// # Why not grpc-go's outlier detection
//
// grpc-go ships outlier detection (gRFC A50) under internal/xds: it is
// registered only by importing the whole xds package (its resolver, the
// xDS client and a dozen balancers), and configured only through xDS
// cluster config or a JSON service config whose child policy must be
// given too. This balancer sits on grpc's public balancer API
// (balancer/base), uses callguard's breaker rules and events, and links
// only the breaker.
package breakerbalancer
