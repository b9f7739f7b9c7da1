package loadshed

import (
	"context"
	"fmt"
	"hash/maphash"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/internal/clock"
)

// DefaultMaxKeys is the number of keys a [KeyedRateLimit] keeps by default.
const DefaultMaxKeys = 10_000

// MaxKeyLen is the longest key, in bytes, that a [KeyedRateLimit] keeps as
// it is; it keeps a longer one as a 64-bit hash.
const MaxKeyLen = 256

// A RateOption configures a [RateLimit] or a [KeyedRateLimit].
type RateOption interface{ applyRate(*rateOptions) }

type rateOptionFunc func(*rateOptions)

func (f rateOptionFunc) applyRate(o *rateOptions) { f(o) }

type rateOptions struct {
	maxWait time.Duration
	maxKeys int
	clock   clock.Clock
}

// WithMaxKeys bounds the keys a [KeyedRateLimit] keeps; beyond it the
// least recently used key is dropped. The default is 10 000.
// [NewKeyedRateLimit] panics if n < 1; [NewRateLimit] ignores it.
func WithMaxKeys(n int) RateOption {
	return rateOptionFunc(func(o *rateOptions) { o.maxKeys = n })
}

func rateConfig(r rate.Limit, burst int, opts []RateOption) rateOptions {
	o := rateOptions{maxKeys: DefaultMaxKeys, clock: clock.Real}
	for _, opt := range opts {
		opt.applyRate(&o)
	}
	switch {
	case !(r >= 0):
		panic(fmt.Sprintf("loadshed: rate must be >= 0, got %v", r))
	case burst < 1 && r != rate.Inf:
		panic(fmt.Sprintf("loadshed: burst must be >= 1, got %d", burst))
	case o.maxWait < 0:
		panic(fmt.Sprintf("loadshed: max wait must be >= 0, got %v", o.maxWait))
	case o.maxKeys < 1:
		panic(fmt.Sprintf("loadshed: max keys must be >= 1, got %d", o.maxKeys))
	}
	return o
}

// A RateLimit admits calls at a rate of r per second with bursts of up to
// burst, a token bucket from golang.org/x/time/rate, for callers that need
// a hard rate rather than an adaptive limit. A call over the rate is
// refused with a [*ShedError] (matching [ErrRateLimited] and [ErrShed])
// whose Delay is the time until a token is free, so that adapters send
// Retry-After; the refusal allocates that error. It is safe for concurrent
// use.
type RateLimit struct {
	lim     *rate.Limiter
	maxWait time.Duration
	clock   clock.Clock
}

var _ callguard.Policy = (*RateLimit)(nil)

// NewRateLimit returns a RateLimit of r calls per second with bursts of up
// to burst, starting full. It panics if r < 0, or if burst < 1 and r is not
// rate.Inf, or if an option is out of its documented range.
func NewRateLimit(r rate.Limit, burst int, opts ...RateOption) *RateLimit {
	o := rateConfig(r, burst, opts)
	return &RateLimit{lim: rate.NewLimiter(r, burst), maxWait: o.maxWait, clock: o.clock}
}

// Do runs fn if a token is free, or once one is within [WithMaxWait], and
// returns what fn returns. Otherwise it returns the refusal, or ctx.Err()
// when ctx ends while it waits, without calling fn.
func (rl *RateLimit) Do(ctx context.Context, fn func(context.Context) error) error {
	if err := admit(ctx, rl.lim, rl.clock, rl.maxWait); err != nil {
		return err
	}
	return fn(ctx)
}

// Wrap returns a handler that runs next under the rate limit, as
// [RateLimit.Do] runs fn.
func (rl *RateLimit) Wrap(next callguard.Handler) callguard.Handler {
	return func(ctx context.Context, call func(context.Context) error) error {
		if err := admit(ctx, rl.lim, rl.clock, rl.maxWait); err != nil {
			return err
		}
		return next(ctx, call)
	}
}

// A KeyedRateLimit is a [RateLimit] per key: per client, per tenant, per
// API key, as its key function says. It is safe for concurrent use.
//
// Memory is bounded: it keeps at most [WithMaxKeys] keys and drops the
// least recently used one to make room. Dropping a key that has been idle
// for burst/r or longer loses nothing, since its bucket would be full
// again; a key dropped sooner starts over with a full bucket when it comes
// back. So set the bound above the number of keys active within burst/r.
//
// Each key costs a few hundred bytes at most: a key longer than
// [MaxKeyLen] bytes is kept as a 64-bit hash, seeded at random for each
// KeyedRateLimit (two long keys share a bucket only if their hashes
// collide), and a shorter one is copied, so that it does not keep alive a
// larger string it was cut from.
type KeyedRateLimit struct {
	r       rate.Limit
	burst   int
	key     func(context.Context) string
	maxWait time.Duration
	maxKeys int
	clock   clock.Clock

	seed maphash.Seed

	mu         sync.Mutex
	keys       map[keyID]*keyEntry
	head, tail *keyEntry // most and least recently used
}

// A keyID is what a KeyedRateLimit keeps of a key: the key itself if it is
// at most MaxKeyLen bytes long, otherwise its hash.
type keyID struct {
	s    string
	hash uint64
	long bool
}

type keyEntry struct {
	key        keyID
	lim        *rate.Limiter
	prev, next *keyEntry // towards head, towards tail
}

var _ callguard.Policy = (*KeyedRateLimit)(nil)

// NewKeyedRateLimit returns a KeyedRateLimit that gives each key returned
// by key a rate of r calls per second with bursts of up to burst. It panics
// as [NewRateLimit] does, and if key is nil.
func NewKeyedRateLimit(r rate.Limit, burst int, key func(context.Context) string, opts ...RateOption) *KeyedRateLimit {
	o := rateConfig(r, burst, opts)
	if key == nil {
		panic("loadshed: nil key function")
	}
	return &KeyedRateLimit{
		r: r, burst: burst, key: key, maxWait: o.maxWait, maxKeys: o.maxKeys, clock: o.clock,
		seed: maphash.MakeSeed(), keys: make(map[keyID]*keyEntry),
	}
}

// Do runs fn if a token is free for the key of ctx, as [RateLimit.Do].
func (k *KeyedRateLimit) Do(ctx context.Context, fn func(context.Context) error) error {
	if err := admit(ctx, k.limiter(k.key(ctx)), k.clock, k.maxWait); err != nil {
		return err
	}
	return fn(ctx)
}

// Wrap returns a handler that runs next under the keyed rate limit, as
// [KeyedRateLimit.Do] runs fn.
func (k *KeyedRateLimit) Wrap(next callguard.Handler) callguard.Handler {
	return func(ctx context.Context, call func(context.Context) error) error {
		if err := admit(ctx, k.limiter(k.key(ctx)), k.clock, k.maxWait); err != nil {
			return err
		}
		return next(ctx, call)
	}
}

// Keys returns the number of keys kept.
func (k *KeyedRateLimit) Keys() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.keys)
}

// limiter returns the bucket of key, making it the most recently used.
func (k *KeyedRateLimit) limiter(key string) *rate.Limiter {
	id := keyID{s: key}
	if len(key) > MaxKeyLen {
		id = keyID{hash: maphash.String(k.seed, key), long: true}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	e, ok := k.keys[id]
	if !ok {
		id.s = strings.Clone(id.s)
	}
	switch {
	case ok:
		k.unlink(e)
	case len(k.keys) >= k.maxKeys:
		e = k.tail
		k.unlink(e)
		delete(k.keys, e.key)
		e.key, e.lim = id, rate.NewLimiter(k.r, k.burst)
		k.keys[id] = e
	default:
		e = &keyEntry{key: id, lim: rate.NewLimiter(k.r, k.burst)}
		k.keys[id] = e
	}
	e.next, k.head = k.head, e
	if e.next != nil {
		e.next.prev = e
	}
	if k.tail == nil {
		k.tail = e
	}
	return e.lim
}

// unlink removes e from the list. It requires that k.mu is held.
func (k *KeyedRateLimit) unlink(e *keyEntry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		k.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		k.tail = e.prev
	}
	e.prev, e.next = nil, nil
}

// admit takes a token from lim for one call, waiting up to maxWait.
func admit(ctx context.Context, lim *rate.Limiter, c clock.Clock, maxWait time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := c.Now()
	if lim.AllowN(now, 1) {
		return nil
	}
	if maxWait == 0 {
		return rateRefusal(ctx, tokenDelay(lim, now))
	}
	res := lim.ReserveN(now, 1)
	d := res.DelayFrom(now)
	if !res.OK() || d > maxWait {
		res.CancelAt(now)
		return rateRefusal(ctx, tokenDelay(lim, now))
	}
	if deadline, ok := ctx.Deadline(); ok && deadline.Before(now.Add(d)) {
		res.CancelAt(now)
		return rateRefusal(ctx, d)
	}
	t := c.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return nil
	case <-ctx.Done():
		res.CancelAt(c.Now())
		return ctx.Err()
	}
}

// tokenDelay returns the time until lim has a token, 0 if never.
func tokenDelay(lim *rate.Limiter, now time.Time) time.Duration {
	r := lim.Limit()
	if r <= 0 || r == rate.Inf || lim.Burst() < 1 {
		return 0
	}
	need := 1 - lim.TokensAt(now)
	return max(time.Duration(need/float64(r)*float64(time.Second)), 1)
}

func rateRefusal(ctx context.Context, d time.Duration) error {
	return &ShedError{Priority: FromContext(ctx), Delay: d, Reason: ReasonRate}
}
