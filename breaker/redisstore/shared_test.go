package redisstore

import (
	"context"
	"errors"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/breaker"
	"github.com/callguard/callguard/callguardtest"
	"github.com/callguard/callguard/internal/race"
	"github.com/redis/go-redis/v9"
)

var _ callguard.Policy = (*Shared)(nil)

var errBoom = errors.New("boom")

func succeed(context.Context) error { return nil }
func fail(context.Context) error    { return errBoom }

// eventually polls cond every millisecond until it holds, failing after a
// generous bound (a safety net, not the thing measured), and returns how
// long it took.
func eventually(t testing.TB, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > 10*time.Second {
			t.Fatalf("%s: not after 10 s", what)
		}
		time.Sleep(time.Millisecond)
	}
	return time.Since(start)
}

func newShared(t testing.TB, rdb redis.UniversalClient, name string, cb *breaker.Breaker, opts ...SharedOption) *Shared {
	s := NewShared(New(rdb), name, cb, opts...)
	t.Cleanup(s.Close)
	return s
}

// TestSharedPropagates: two copies with separate clients share a breaker.
// When the first copy's breaker opens, the second refuses calls while its
// own breaker stays closed; when the first's probe closes it again, the
// second lets calls through again.
func TestSharedPropagates(t *testing.T) {
	name := uniqueName(t)
	fake := callguardtest.NewClock()
	acb := breaker.New(breaker.WithClock(fake), breaker.WithConsecutiveFailures(2), breaker.WithOpenTimeout(time.Minute))
	a := newShared(t, client(t), name, acb, WithInterval(10*time.Millisecond), WithHold(time.Hour))
	b := newShared(t, client(t), name, breaker.New(), WithInterval(10*time.Millisecond))
	for range 2 {
		if err := a.Do(context.Background(), fail); err != errBoom {
			t.Fatalf("a.Do = %v, want %v", err, errBoom)
		}
	}
	took := eventually(t, "b refuses", func() bool { return errors.Is(b.Do(context.Background(), succeed), breaker.ErrOpen) })
	t.Logf("b refused %v after a's breaker opened (interval 10 ms)", took)
	if got := b.Breaker().State(); got != breaker.Closed || !b.RemoteOpen() {
		t.Errorf("b: local %v, remote open %t; want closed, true", got, b.RemoteOpen())
	}
	if b.Degraded() {
		t.Error("b.Degraded() = true with Redis up")
	}

	fake.Advance(time.Minute) // a's breaker lets a probe through; the hold (1 h) still stands
	if err := acb.Do(context.Background(), succeed); err != nil {
		t.Fatalf("a's probe = %v, want nil", err)
	}
	eventually(t, "b lets calls through", func() bool { return b.Do(context.Background(), succeed) == nil })
	eventually(t, "a lets calls through", func() bool { return a.Do(context.Background(), succeed) == nil })
}

// TestSharedStoreDown: with nothing listening at the store's address, calls
// go on under the local breaker alone, and the Shared reports the store
// as degraded.
func TestSharedStoreDown(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort())), MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	var mu sync.Mutex
	var events []bool
	s := newShared(t, rdb, uniqueName(t), breaker.New(breaker.WithConsecutiveFailures(2)), WithInterval(5*time.Millisecond),
		OnDegraded(func(d bool, err error) {
			mu.Lock()
			defer mu.Unlock()
			if d && err == nil {
				t.Error("OnDegraded(true, nil), want the store's error")
			}
			events = append(events, d)
		}))
	eventually(t, "degraded", s.Degraded)
	for range 2 {
		if err := s.Do(context.Background(), fail); err != errBoom {
			t.Fatalf("Do = %v, want %v", err, errBoom)
		}
	}
	if err := s.Do(context.Background(), succeed); !errors.Is(err, breaker.ErrOpen) {
		t.Errorf("Do after two failures = %v, want the local breaker's ErrOpen", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(events) == 0 || !events[0] {
		t.Errorf("OnDegraded events = %v, want [true]", events)
	}
}

// TestSharedStoreHangs: the store's server accepts connections and never
// answers. While the Shared's goroutine waits on it, calls go on.
func TestSharedStoreHangs(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	got := make(chan struct{}, 1)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go func() {
				buf := make([]byte, 512)
				for {
					if _, err := c.Read(buf); err != nil {
						return
					}
					select {
					case got <- struct{}{}:
					default:
					}
				}
			}()
		}
	}()
	hangUp := func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}
	rdb := redis.NewClient(&redis.Options{Addr: l.Addr().String(), MaxRetries: -1, ReadTimeout: -1, DialTimeout: time.Hour})
	t.Cleanup(func() { rdb.Close() })
	s := NewShared(New(rdb, WithTimeout(time.Hour)), uniqueName(t), breaker.New(), WithInterval(time.Millisecond))
	defer s.Close()
	defer hangUp() // before Close: the goroutine's command fails and it sees stop

	select {
	case <-got: // the goroutine's command is on the wire, unanswered for an hour
	case <-time.After(10 * time.Second):
		t.Fatal("the store's server got nothing in 10 s")
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 1000 {
			if err := s.Do(context.Background(), succeed); err != nil {
				t.Errorf("Do = %v, want nil", err)
				return
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("calls blocked while the store hangs")
	}
}

func TestSharedAllocs(t *testing.T) {
	if testing.Short() || race.Enabled {
		t.Skip("alloc guard: skipped in short mode and under -race")
	}
	s := newShared(t, client(t), uniqueName(t), breaker.New())
	ctx := context.Background()
	if n := testing.AllocsPerRun(100, func() { _ = s.Do(ctx, succeed) }); n != 0 {
		t.Errorf("Do allocs = %v, want 0", n)
	}
}
