package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sony/gobreaker/v2"
)

// Defaults of [New].
const (
	DefaultTimeout = 50 * time.Millisecond // per Redis command
	DefaultLockTTL = 10 * time.Second      // a lock's expiry in Redis
)

// ErrLocked is returned by [Store.Lock] when another holder has the lock.
var ErrLocked = errors.New("redisstore: locked")

var _ gobreaker.SharedDataStore = (*Store)(nil)

// A Store is a gobreaker.SharedDataStore on Redis. It is safe for
// concurrent use; its methods do not retry. Each command is bounded by the
// store's timeout. The zero value is not usable; call [New].
type Store struct {
	rdb     redis.UniversalClient
	timeout time.Duration
	lockTTL time.Duration

	mu     sync.Mutex
	tokens map[string]string // the token of each lock this Store holds; guarded by mu
}

// A StoreOption configures [New].
type StoreOption interface{ apply(*Store) }

type storeOptionFunc func(*Store)

func (f storeOptionFunc) apply(s *Store) { f(s) }

// WithTimeout bounds each Redis command. The default is 50 ms; d must be
// > 0, or New panics.
func WithTimeout(d time.Duration) StoreOption {
	return storeOptionFunc(func(s *Store) { s.timeout = d })
}

// WithLockTTL sets how long a lock lives in Redis if its holder never
// unlocks it (a crashed copy). gobreaker's DistributedCircuitBreaker
// holds the lock for the length of a call, so d must be longer than the
// longest call. The default is 10 s; d must be > 0, or New panics.
func WithLockTTL(d time.Duration) StoreOption {
	return storeOptionFunc(func(s *Store) { s.lockTTL = d })
}

// New returns a Store on rdb (a *redis.Client, *redis.ClusterClient, …),
// which the caller keeps and closes.
func New(rdb redis.UniversalClient, opts ...StoreOption) *Store {
	s := &Store{rdb: rdb, timeout: DefaultTimeout, lockTTL: DefaultLockTTL, tokens: map[string]string{}}
	for _, o := range opts {
		o.apply(s)
	}
	if s.timeout <= 0 || s.lockTTL <= 0 {
		panic(fmt.Sprintf("redisstore: timeout and lock TTL must be > 0, got %v and %v", s.timeout, s.lockTTL))
	}
	return s
}

// Lock takes the lock name (SET NX with the lock TTL and a random token).
// It returns [ErrLocked] if another holder has it, and does not wait.
func (s *Store) Lock(name string) error {
	var b [16]byte
	_, _ = rand.Read(b[:])
	token := hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	ok, err := s.rdb.SetNX(ctx, name, token, s.lockTTL).Result()
	if err != nil {
		return fmt.Errorf("redisstore: lock %s: %w", name, err)
	}
	if !ok {
		return ErrLocked
	}
	s.mu.Lock()
	s.tokens[name] = token
	s.mu.Unlock()
	return nil
}

// unlockScript deletes the lock only if it still holds the caller's token:
// a lock that expired and was taken by another holder is not released.
var unlockScript = redis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end return 0`)

// Unlock releases the lock name if this Store holds it.
func (s *Store) Unlock(name string) error {
	s.mu.Lock()
	token, ok := s.tokens[name]
	delete(s.tokens, name)
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("redisstore: unlock %s: not held", name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	if err := unlockScript.Run(ctx, s.rdb, []string{name}, token).Err(); err != nil {
		return fmt.Errorf("redisstore: unlock %s: %w", name, err)
	}
	return nil
}

// GetData returns the value of name, or nil and no error if it has none.
func (s *Store) GetData(name string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	b, err := s.rdb.Get(ctx, name).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("redisstore: get %s: %w", name, err)
	}
	return b, nil
}

// SetData sets the value of name, with no expiry.
func (s *Store) SetData(name string, data []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	if err := s.rdb.Set(ctx, name, data, 0).Err(); err != nil {
		return fmt.Errorf("redisstore: set %s: %w", name, err)
	}
	return nil
}
