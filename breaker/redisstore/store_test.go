package redisstore

import (
	"errors"
	"testing"
	"time"

	"github.com/sony/gobreaker/v2"
)

func TestStoreLock(t *testing.T) {
	a, b := New(client(t)), New(client(t))
	name := uniqueName(t)
	if err := a.Lock(name); err != nil {
		t.Fatalf("a.Lock = %v, want nil", err)
	}
	if err := b.Lock(name); !errors.Is(err, ErrLocked) {
		t.Fatalf("b.Lock while a holds it = %v, want ErrLocked", err)
	}
	if err := b.Unlock(name); err == nil {
		t.Fatal("b.Unlock of a lock it does not hold = nil, want an error")
	}
	if err := a.Unlock(name); err != nil {
		t.Fatalf("a.Unlock = %v, want nil", err)
	}
	if err := b.Lock(name); err != nil {
		t.Fatalf("b.Lock after a.Unlock = %v, want nil", err)
	}
	if err := b.Unlock(name); err != nil {
		t.Fatal(err)
	}
}

func TestStoreLockExpires(t *testing.T) {
	a := New(client(t), WithLockTTL(50*time.Millisecond))
	b := New(client(t))
	name := uniqueName(t)
	if err := a.Lock(name); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second) // a safety net: the TTL is 50 ms
	for b.Lock(name) != nil {
		if time.Now().After(deadline) {
			t.Fatal("the lock of a holder that never unlocked did not expire")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := a.Unlock(name); err != nil { // a's token is gone: b's lock stays
		t.Fatal(err)
	}
	if err := New(client(t)).Lock(name); !errors.Is(err, ErrLocked) {
		t.Errorf("Lock after a stale Unlock = %v, want ErrLocked (b still holds it)", err)
	}
	_ = b.Unlock(name)
}

func TestStoreData(t *testing.T) {
	s := New(client(t))
	name := uniqueName(t)
	if got, err := s.GetData(name); got != nil || err != nil {
		t.Fatalf("GetData of a missing key = %q, %v; want nil, nil", got, err)
	}
	if err := s.SetData(name, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetData(name); string(got) != "x" || err != nil {
		t.Fatalf("GetData = %q, %v; want x, nil", got, err)
	}
}

// TestDistributedCircuitBreaker runs gobreaker's own distributed breaker
// on the store: two breakers with separate clients, one trips, the other
// sees the open state.
func TestDistributedCircuitBreaker(t *testing.T) {
	st := gobreaker.Settings{
		Name:        uniqueName(t),
		Timeout:     time.Hour,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= 2 },
	}
	a, err := gobreaker.NewDistributedCircuitBreaker[struct{}](New(client(t)), st)
	if err != nil {
		t.Fatal(err)
	}
	b, err := gobreaker.NewDistributedCircuitBreaker[struct{}](New(client(t)), st)
	if err != nil {
		t.Fatal(err)
	}
	errBoom := errors.New("boom")
	for range 2 {
		if _, err := a.Execute(func() (struct{}, error) { return struct{}{}, errBoom }); err != errBoom {
			t.Fatalf("a.Execute = %v, want %v", err, errBoom)
		}
	}
	ran := false
	if _, err := b.Execute(func() (struct{}, error) { ran = true; return struct{}{}, nil }); err != gobreaker.ErrOpenState || ran {
		t.Errorf("b.Execute after a tripped = %v (ran %t), want ErrOpenState", err, ran)
	}
	if s, err := b.State(); s != gobreaker.StateOpen || err != nil {
		t.Errorf("b.State() = %v, %v; want open", s, err)
	}
}

func TestNewPanics(t *testing.T) {
	defer func() {
		if r := recover(); r != "redisstore: timeout and lock TTL must be > 0, got 0s and 10s" {
			t.Errorf("panic = %v", r)
		}
	}()
	New(nil, WithTimeout(0))
}
