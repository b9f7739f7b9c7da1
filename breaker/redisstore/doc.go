// Package redisstore shares circuit breaker state between the copies of
// a service through Redis, so that when one copy's breaker opens on a
// failing dependency, the others stop calling it too, instead of each
// paying for its own five failures. It is a module of its own, so that
// callguard itself does not depend on a Redis client.
//
// [Store] is gobreaker v2's SharedDataStore on Redis (github.com/redis/go-redis/v9):
// it works with gobreaker's DistributedCircuitBreaker as it is. [Shared]
// is what callguard recommends instead: a local [breaker.Breaker] whose
// open state is published through the same store interface and read back
// in the background.
//
//	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
//	s := redisstore.NewShared(redisstore.New(rdb), "payments", breaker.New())
//	defer s.Close()
//	err := s.Do(ctx, callPayments)
//
// # Why not gobreaker's DistributedCircuitBreaker for every call
//
// DistributedCircuitBreaker.Execute reads the state from the store, takes
// the store's lock, runs the call while holding it, writes the state back
// and unlocks: four round trips to Redis per call, and every call of every
// copy to one dependency runs one at a time, under one lock. When Redis is
// down, each call waits up to 5 s retrying the lock, then fails. Shared
// never touches Redis on the call path: a call reads one atomic value
// more than the local breaker, whether Redis is up, slow or down.
//
// # What is shared, and the bounds
//
// When the local breaker opens, Shared writes "open until now + hold" to
// the store (at once, from a background goroutine); when it closes again,
// "closed". Every sync interval (100 ms by default) the goroutine reads the
// store, and until the time read passes, Shared refuses calls with
// [breaker.ErrOpen] whatever its local breaker says. So another copy
// refuses at most one interval plus one round trip after the first copy's
// breaker opened. The time written is wall time: a copy whose clock is s
// ahead of the writer's ends the hold s early. Counts are not shared: each copy decides on its own
// calls, as gobreaker's shared state would make every copy's failures
// count for all, and the open state is what spares the dependency.
//
// When the store fails or does not answer within the timeout (50 ms by
// default), Shared reports it ([OnDegraded], [Shared.Degraded]) and goes
// on with the local breaker alone: an open state read before stays in
// force until its time passes (at most hold), nothing else changes. Calls
// never wait for the store.
package redisstore
