package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/breaker"
	"github.com/sony/gobreaker/v2"
)

// Defaults of [NewShared].
const (
	DefaultInterval = 100 * time.Millisecond // between reads of the store
	DefaultHold     = 5 * time.Second        // breaker.New's open timeout
)

// keyPrefix is the prefix of the store keys; gobreaker's own are
// "gobreaker:state:" and "gobreaker:mutex:".
const keyPrefix = "callguard:breaker:"

// A SharedOption configures [NewShared].
type SharedOption interface{ apply(*Shared) }

type sharedOptionFunc func(*Shared)

func (f sharedOptionFunc) apply(s *Shared) { f(s) }

// WithInterval sets how often the store is read: the bound, with one round
// trip, on how late another copy's open breaker is seen. The default is
// 100 ms; d must be > 0, or NewShared panics.
func WithInterval(d time.Duration) SharedOption {
	return sharedOptionFunc(func(s *Shared) { s.interval = d })
}

// WithHold sets how long the copies refuse calls after one copy's breaker
// opened: set it to that breaker's open timeout. The default is 5 s,
// breaker.New's; d must be > 0, or NewShared panics.
func WithHold(d time.Duration) SharedOption {
	return sharedOptionFunc(func(s *Shared) { s.hold = d })
}

// OnDegraded sets a hook called, on Shared's goroutine, when the store
// stops answering (degraded true, with the error) and when it answers
// again (false, nil). The default is no hook.
func OnDegraded(fn func(degraded bool, err error)) SharedOption {
	return sharedOptionFunc(func(s *Shared) { s.onDegraded = fn })
}

// A Shared is a [breaker.Breaker] whose open state the copies of a service
// share through a store (see the package doc). It is safe for concurrent
// use, and a [callguard.Policy]. Its goroutine runs until [Shared.Close].
type Shared struct {
	cb         *breaker.Breaker
	do         callguard.Handler // cb.Do
	store      gobreaker.SharedDataStore
	key        string
	interval   time.Duration
	hold       time.Duration
	onDegraded func(bool, error)

	// remoteUntil is when the open state read from the store ends, in Unix
	// ns (wall time: it is compared across machines), or 0.
	remoteUntil atomic.Int64
	degraded    atomic.Bool
	kick        chan struct{} // buffered 1: a call saw the local breaker open
	stop        chan struct{}
	done        chan struct{}
	closeOnce   sync.Once
}

// sharedState is what Shared writes to the store: gobreaker's SharedState
// with only State and Expiry set.
type sharedState = gobreaker.SharedState

// NewShared returns a Shared that guards calls with cb and shares its open
// state under name through store, and starts its goroutine. Copies of a
// service that share a breaker use the same name. It panics if an option
// is out of range.
func NewShared(store gobreaker.SharedDataStore, name string, cb *breaker.Breaker, opts ...SharedOption) *Shared {
	s := &Shared{
		cb: cb, do: cb.Do, store: store, key: keyPrefix + name,
		interval: DefaultInterval, hold: DefaultHold,
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
	}
	for _, o := range opts {
		o.apply(s)
	}
	if s.interval <= 0 || s.hold <= 0 {
		panic(fmt.Sprintf("redisstore: interval and hold must be > 0, got %v and %v", s.interval, s.hold))
	}
	go s.loop()
	return s
}

// Do runs fn under the shared breaker: it returns [breaker.ErrOpen],
// without running fn, while the store says that a copy's breaker is open,
// and otherwise what the local breaker's Do returns.
func (s *Shared) Do(ctx context.Context, fn func(context.Context) error) error {
	return s.run(ctx, s.do, fn)
}

// Wrap returns a handler that runs next under the shared breaker, as
// [Shared.Do] runs fn. It implements [callguard.Policy].
func (s *Shared) Wrap(next callguard.Handler) callguard.Handler {
	h := s.cb.Wrap(next)
	return func(ctx context.Context, call func(context.Context) error) error {
		return s.run(ctx, h, call)
	}
}

// run is Do and the handler of Wrap; h runs the call under the local
// breaker.
func (s *Shared) run(ctx context.Context, h callguard.Handler, call func(context.Context) error) error {
	if u := s.remoteUntil.Load(); u != 0 && time.Now().UnixNano() < u {
		return breaker.ErrOpen
	}
	err := h(ctx, call)
	if err != nil && !errors.Is(err, breaker.ErrOpen) && s.cb.State() == breaker.Open {
		select { // publish now, not at the next tick
		case s.kick <- struct{}{}:
		default:
		}
	}
	return err
}

// Breaker returns the local breaker.
func (s *Shared) Breaker() *breaker.Breaker { return s.cb }

// RemoteOpen reports whether the store says that a copy's breaker is open.
func (s *Shared) RemoteOpen() bool {
	u := s.remoteUntil.Load()
	return u != 0 && time.Now().UnixNano() < u
}

// Degraded reports whether the last exchange with the store failed: the
// breaker then works on local state alone.
func (s *Shared) Degraded() bool { return s.degraded.Load() }

// Close stops the goroutine and waits for it. It does not close the store.
func (s *Shared) Close() {
	s.closeOnce.Do(func() { close(s.stop) })
	<-s.done
}

// loop publishes the local breaker's changes and reads the store, every
// interval and whenever a call saw the local breaker open.
func (s *Shared) loop() {
	defer close(s.done)
	t := time.NewTicker(s.interval)
	defer t.Stop()
	published := breaker.Closed // what this copy last wrote
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		case <-s.kick:
		}
		err := s.sync(&published)
		if was := s.degraded.Swap(err != nil); was != (err != nil) && s.onDegraded != nil {
			s.onDegraded(err != nil, err)
		}
	}
}

// sync writes the local state if it changed between open and closed, then
// reads the shared state.
func (s *Shared) sync(published *breaker.State) error {
	switch local := s.cb.State(); {
	case local == breaker.Open && *published != breaker.Open:
		if err := s.write(sharedState{State: gobreaker.StateOpen, Expiry: time.Now().Add(s.hold)}); err != nil {
			return err
		}
		*published = breaker.Open
	case local == breaker.Closed && *published == breaker.Open:
		if err := s.write(sharedState{State: gobreaker.StateClosed}); err != nil {
			return err
		}
		*published = breaker.Closed
	}
	data, err := s.store.GetData(s.key)
	if err != nil {
		return err
	}
	var st sharedState
	if len(data) > 0 {
		if err := json.Unmarshal(data, &st); err != nil {
			return fmt.Errorf("redisstore: shared state of %s: %w", s.key, err)
		}
	}
	until := int64(0)
	if st.State == gobreaker.StateOpen && time.Now().Before(st.Expiry) {
		until = st.Expiry.UnixNano()
	}
	s.remoteUntil.Store(until)
	return nil
}

func (s *Shared) write(st sharedState) error {
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return s.store.SetData(s.key, data)
}
