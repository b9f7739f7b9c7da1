package redisstore_test

import (
	"context"
	"errors"
	"log"

	"github.com/callguard/callguard/breaker"
	"github.com/callguard/callguard/breaker/redisstore"
	"github.com/redis/go-redis/v9"
)

// Each copy of a service makes its Shared with the same name; when one
// copy's breaker opens, the others refuse calls within the interval. (No
// Output: it needs a Redis server.)
func ExampleNewShared() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer rdb.Close()
	cb := breaker.New(breaker.WithName("payments"))
	s := redisstore.NewShared(redisstore.New(rdb), "payments", cb,
		redisstore.OnDegraded(func(degraded bool, err error) {
			log.Printf("payments breaker: Redis degraded=%t: %v", degraded, err)
		}))
	defer s.Close()

	err := s.Do(context.Background(), func(ctx context.Context) error { return nil /* call payments */ })
	if errors.Is(err, breaker.ErrOpen) {
		log.Print("payments is down, here or in another copy")
	}
}
