package breaker

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/internal/race"
)

var _ callguard.Policy = (*Breaker)(nil)

var errBoom = errors.New("boom")

// testOpenTimeout is short so that tests reach half-open quickly; they wait
// for it by polling State, never by asserting on elapsed time.
const testOpenTimeout = 20 * time.Millisecond

func succeed(context.Context) error { return nil }
func fail(context.Context) error    { return errBoom }

// waitState polls cb.State until it is want, failing after a generous bound.
func waitState(t *testing.T, cb *Breaker, want State) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for cb.State() != want {
		if time.Now().After(deadline) {
			t.Fatalf("State() = %v, want %v (gave up waiting)", cb.State(), want)
		}
		time.Sleep(time.Millisecond)
	}
}

// recv receives from errs, failing after a generous bound.
func recv(t *testing.T, errs <-chan error) error {
	t.Helper()
	select {
	case err := <-errs:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("no result after 10s: too many calls let through?")
		return nil
	}
}

// trip opens cb, which must open on its first failure
// (WithConsecutiveFailures(1)): the failing call itself opens the circuit,
// so no timing is involved.
func trip(t *testing.T, cb *Breaker) {
	t.Helper()
	if err := cb.Do(context.Background(), fail); err != errBoom {
		t.Fatalf("Do(…) = %v, want %v", err, errBoom)
	}
}

func TestOpensAtThreshold(t *testing.T) {
	tests := []struct {
		name       string
		giveOpts   []Option
		giveCalls  string // S: success, F: failure
		wantOpenAt int    // index of the call after which the circuit is open; len: never
	}{
		{"default consecutive", nil, "SFFFFF", 5},
		{"consecutive 3", []Option{WithConsecutiveFailures(3)}, "FFSFFF", 5},
		{"consecutive 1", []Option{WithConsecutiveFailures(1)}, "SSSF", 3},
		{"default ratio", []Option{WithConsecutiveFailures(0)},
			strings.Repeat("SF", 9) + "FF", 19},
		{"ratio 0.5 over 10", []Option{WithConsecutiveFailures(0), WithFailureRatio(0.5, 10)},
			"SSSSSFFFFF", 9},
		{"ratio 0.1 over 30", []Option{WithConsecutiveFailures(0), WithFailureRatio(0.1, 30)},
			strings.Repeat("S", 27) + "FFF", 29},
		{"ratio 1 over 4", []Option{WithConsecutiveFailures(0), WithFailureRatio(1, 4)},
			"FFFF", 3},
		{"ratio 1 never with a success", []Option{WithConsecutiveFailures(0), WithFailureRatio(1, 4)},
			"SFFFFFFF", 8},
		{"ratio waits for min requests", []Option{WithConsecutiveFailures(0), WithFailureRatio(0.2, 5)},
			"FFFFF", 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cb := New(tt.giveOpts...)
			for i, c := range tt.giveCalls {
				fn := succeed
				if c == 'F' {
					fn = fail
				}
				if err := cb.Do(context.Background(), fn); err != nil && !errors.Is(err, errBoom) {
					t.Fatalf("call %d: Do(…) = %v, want nil or %v", i, err, errBoom)
				}
				want := Closed
				if i >= tt.wantOpenAt {
					want = Open
				}
				if got := cb.State(); got != want {
					t.Fatalf("after call %d: State() = %v, want %v", i, got, want)
				}
				if i == tt.wantOpenAt {
					break
				}
			}
		})
	}
}

func TestStaysOpen(t *testing.T) {
	cb := New(WithConsecutiveFailures(1), WithOpenTimeout(time.Hour))
	trip(t, cb)
	var ran atomic.Int32
	for range 100 {
		err := cb.Do(context.Background(), func(context.Context) error { ran.Add(1); return nil })
		if !errors.Is(err, ErrOpen) || !errors.Is(err, callguard.ErrRejected) || !errors.Is(err, callguard.ErrOverloaded) {
			t.Fatalf("Do(…) = %v, want ErrOpen matching ErrRejected and ErrOverloaded", err)
		}
	}
	if n := ran.Load(); n != 0 {
		t.Errorf("fn ran %d times while open, want 0", n)
	}
	if got := cb.State(); got != Open {
		t.Errorf("State() = %v, want %v", got, Open)
	}
}

func TestHalfOpenProbes(t *testing.T) {
	const probes, callers = 3, 10
	cb := New(WithConsecutiveFailures(1), WithOpenTimeout(testOpenTimeout), WithHalfOpenProbes(probes))
	trip(t, cb)
	waitState(t, cb, HalfOpen)

	var ran atomic.Int32
	release := make(chan struct{})
	errs := make(chan error, callers)
	for range callers {
		go func() {
			errs <- cb.Do(context.Background(), func(context.Context) error {
				ran.Add(1)
				<-release
				return nil
			})
		}()
	}
	for range callers - probes { // the rejected calls return while the probes block
		if err := recv(t, errs); !errors.Is(err, ErrOpen) {
			t.Fatalf("Do(…) = %v, want ErrOpen", err)
		}
	}
	close(release)
	for range probes {
		if err := <-errs; err != nil {
			t.Fatalf("probe Do(…) = %v, want nil", err)
		}
	}
	if n := ran.Load(); n != probes {
		t.Errorf("fn ran %d times in half-open, want %d", n, probes)
	}
	if got := cb.State(); got != Closed {
		t.Errorf("State() = %v, want %v", got, Closed)
	}
}

func TestHalfOpenRejectionMessage(t *testing.T) {
	cb := New(WithConsecutiveFailures(1), WithOpenTimeout(testOpenTimeout))
	trip(t, cb)
	waitState(t, cb, HalfOpen)
	err := cb.Do(context.Background(), func(context.Context) error {
		err := cb.Do(context.Background(), succeed) // the one probe slot is taken
		if !errors.Is(err, ErrOpen) || !errors.Is(err, callguard.ErrRejected) {
			t.Errorf("Do(…) during probe = %v, want ErrOpen", err)
		}
		if err == nil || !strings.Contains(err.Error(), "half-open") {
			t.Errorf("Do(…) during probe = %v, want a half-open message", err)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("probe Do(…) = %v, want nil", err)
	}
}

func TestProbeOutcome(t *testing.T) {
	tests := []struct {
		name           string
		giveProbe      func(context.Context) error
		wantTransition string // made by the probe; "" for none
	}{
		{"success closes", succeed, "half-open -> closed"},
		{"failure reopens", fail, "half-open -> open"},
		{"timeout reopens", func(context.Context) error { return context.DeadlineExceeded }, "half-open -> open"},
		{"cancellation keeps half-open", func(context.Context) error { return context.Canceled }, ""},
		{"shed keeps half-open", func(context.Context) error { return callguard.Overloaded(0, nil) }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var last string // the hook runs on this goroutine: in Do and State
			cb := New(WithConsecutiveFailures(1), WithOpenTimeout(testOpenTimeout),
				OnStateChange(func(_ string, from, to State) { last = from.String() + " -> " + to.String() }))
			trip(t, cb)
			waitState(t, cb, HalfOpen)
			last = ""
			_ = cb.Do(context.Background(), tt.giveProbe)
			if last != tt.wantTransition {
				t.Fatalf("transition = %q, want %q", last, tt.wantTransition)
			}
			if tt.wantTransition == "" && cb.State() != HalfOpen { // half-open has no timeout
				t.Fatalf("State() = %v, want %v", cb.State(), HalfOpen)
			}
			if tt.wantTransition == "" { // the probe freed its slot: the next one runs
				if err := cb.Do(context.Background(), succeed); err != nil || last != "half-open -> closed" {
					t.Fatalf("next probe: Do = %v, transition %q; want nil, half-open -> closed", err, last)
				}
			}
		})
	}
}

func TestExclusions(t *testing.T) {
	tests := []struct {
		name         string
		giveErr      error
		wantExcluded bool
	}{
		{"canceled", context.Canceled, true},
		{"wrapped canceled", fmt.Errorf("get: %w", context.Canceled), true},
		{"permanent", callguard.Permanent(errBoom), true},
		{"wrapped permanent", fmt.Errorf("get: %w", callguard.Permanent(errBoom)), true},
		{"rejection", callguard.NewRejection("bulkhead: full"), true},
		{"inner breaker open", ErrOpen, true},
		{"deadline", context.DeadlineExceeded, false},
		{"callee shed", callguard.Overloaded(0, errBoom), true},
		{"callee shed with delay", callguard.Overloaded(time.Second, nil), true},
		{"wrapped callee shed", fmt.Errorf("get: %w", callguard.Overloaded(0, nil)), true},
		{"plain", errBoom, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cb := New(WithConsecutiveFailures(3))
			for range 3 {
				if err := cb.Do(context.Background(), func(context.Context) error { return tt.giveErr }); err != tt.giveErr {
					t.Fatalf("Do(…) = %v, want %v unchanged", err, tt.giveErr)
				}
			}
			wantState, wantCounts := Open, Counts{}
			if tt.wantExcluded {
				wantState, wantCounts = Closed, Counts{Requests: 3, TotalExclusions: 3}
			}
			if got := cb.State(); got != wantState {
				t.Errorf("State() = %v, want %v", got, wantState)
			}
			if got := cb.Counts(); got != wantCounts {
				t.Errorf("Counts() = %+v, want %+v", got, wantCounts)
			}
		})
	}
}

func TestDoneContextNotRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	cb := New()
	ran := false
	if err := cb.Do(ctx, func(context.Context) error { ran = true; return nil }); err != context.Canceled {
		t.Errorf("Do(…) = %v, want %v", err, context.Canceled)
	}
	if ran {
		t.Error("fn ran with a done context")
	}
	if got := cb.Counts(); got != (Counts{}) {
		t.Errorf("Counts() = %+v, want zero", got)
	}
}

func TestPanicIsFailure(t *testing.T) {
	// The classifier calls nothing a failure; a panic still is one.
	cb := New(WithConsecutiveFailures(1), WithIsFailure(func(error) bool { return false }))
	func() {
		defer func() {
			if r := recover(); r != errBoom {
				t.Errorf("recover() = %v, want %v", r, errBoom)
			}
		}()
		_ = cb.Do(context.Background(), func(context.Context) error { panic(errBoom) })
		t.Error("Do returned, want a panic")
	}()
	if got := cb.State(); got != Open {
		t.Errorf("State() = %v, want %v", got, Open)
	}
}

func TestDefaultsIgnoreRareErrors(t *testing.T) {
	cb := New()
	rng := rand.New(rand.NewPCG(1, 2))
	var failures int
	for i := range 100_000 {
		err := cb.Do(context.Background(), func(context.Context) error {
			if rng.IntN(100) == 0 {
				failures++
				return errBoom
			}
			return nil
		})
		if errors.Is(err, ErrOpen) {
			t.Fatalf("call %d: circuit opened on 1%% errors (%d failures so far)", i, failures)
		}
	}
	if failures < 500 {
		t.Errorf("only %d failures injected, want about 1000", failures)
	}
}

func TestHammer(t *testing.T) {
	t.Parallel()
	valid := map[[2]State]bool{{Closed, Open}: true, {Open, HalfOpen}: true, {HalfOpen, Closed}: true, {HalfOpen, Open}: true}
	var mu sync.Mutex
	var bad []string
	var transitions atomic.Int32
	cb := New(WithConsecutiveFailures(2), WithOpenTimeout(time.Millisecond), WithHalfOpenProbes(2),
		WithWindow(4*time.Millisecond, time.Millisecond),
		OnStateChange(func(_ string, from, to State) {
			transitions.Add(1)
			if !valid[[2]State{from, to}] {
				mu.Lock()
				bad = append(bad, from.String()+" -> "+to.String())
				mu.Unlock()
			}
		}))
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			for range 2000 {
				var want error
				switch rng.IntN(4) {
				case 0:
					want = errBoom
				case 1:
					want = context.Canceled
				}
				err := cb.Do(context.Background(), func(context.Context) error { return want })
				if err != want && !errors.Is(err, ErrOpen) {
					t.Errorf("Do(…) = %v, want %v or ErrOpen", err, want)
					return
				}
				_ = cb.State()
			}
		})
	}
	wg.Wait()
	if len(bad) > 0 {
		t.Errorf("invalid transitions: %v", bad)
	}
	if transitions.Load() == 0 {
		t.Error("no state transitions under 25% failures")
	}
}

func TestStateString(t *testing.T) {
	tests := []struct {
		give State
		want string
	}{
		{Closed, "closed"},
		{HalfOpen, "half-open"},
		{Open, "open"},
		{State(7), "breaker.State(7)"},
	}
	for _, tt := range tests {
		if got := tt.give.String(); got != tt.want {
			t.Errorf("State(%d).String() = %q, want %q", int(tt.give), got, tt.want)
		}
	}
}

func TestDoAllocs(t *testing.T) {
	if testing.Short() || race.Enabled {
		t.Skip("alloc guard: skipped in short mode and under -race")
	}
	cb := New()
	ctx := context.Background()
	if n := testing.AllocsPerRun(100, func() { _ = cb.Do(ctx, succeed) }); n != 0 {
		t.Errorf("Do allocs = %v, want 0", n)
	}
	h := cb.Wrap(callguard.Invoke)
	if n := testing.AllocsPerRun(100, func() { _ = h(ctx, succeed) }); n != 0 {
		t.Errorf("Wrap handler allocs = %v, want 0", n)
	}
	tripped := New(WithConsecutiveFailures(1))
	_ = tripped.Do(ctx, fail)
	if n := testing.AllocsPerRun(100, func() { _ = tripped.Do(ctx, succeed) }); n != 0 {
		t.Errorf("Do allocs while open = %v, want 0", n)
	}
}
