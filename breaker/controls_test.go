package breaker

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callguard/callguard/callguardtest"
	"github.com/callguard/callguard/internal/race"
)

// events records the transitions a breaker reports.
type events struct {
	mu  sync.Mutex
	got []string
}

func (e *events) hook(_ string, from, to State) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.got = append(e.got, from.String()+" -> "+to.String())
}

func (e *events) take() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := strings.Join(e.got, ", ")
	e.got = nil
	return s
}

func TestClockDrivesOpenState(t *testing.T) {
	fake := callguardtest.NewClock()
	var ev events
	cb := New(WithClock(fake), WithConsecutiveFailures(1), WithOpenTimeout(time.Minute),
		WithWindow(0, 0), OnStateChange(ev.hook))
	trip(t, cb)
	if got := ev.take(); got != "closed -> open" {
		t.Fatalf("events = %q, want closed -> open", got)
	}
	fake.Advance(time.Minute - time.Nanosecond)
	for range 3 { // much more than gobreaker's own (real) open time passes, yet it stays open
		if err := cb.Do(context.Background(), succeed); !errors.Is(err, ErrOpen) {
			t.Fatalf("Do(…) before the open timeout = %v, want ErrOpen", err)
		}
		if got := cb.State(); got != Open {
			t.Fatalf("State() = %v, want open", got)
		}
		time.Sleep(time.Millisecond)
	}
	if got := cb.OpenUntil(); !got.Equal(fake.Now().Add(time.Nanosecond)) {
		t.Errorf("OpenUntil() = %v, want %v", got, fake.Now().Add(time.Nanosecond))
	}
	fake.Advance(time.Nanosecond)
	if got := cb.State(); got != HalfOpen {
		t.Fatalf("State() after the open timeout = %v, want half-open", got)
	}
	if err := cb.Do(context.Background(), succeed); err != nil {
		t.Fatalf("probe Do(…) = %v, want nil", err)
	}
	if got := ev.take(); got != "open -> half-open, half-open -> closed" {
		t.Errorf("events = %q, want open -> half-open, half-open -> closed", got)
	}
}

func TestSlowCallIsFailure(t *testing.T) {
	tests := []struct {
		name      string
		giveTake  time.Duration
		giveErr   error
		wantState State
	}{
		{"fast success", 99 * time.Millisecond, nil, Closed},
		{"at threshold", 100 * time.Millisecond, nil, Closed},
		{"slow success", 101 * time.Millisecond, nil, Open},
		{"slow failure", time.Second, errBoom, Open},
		{"slow cancellation", time.Second, context.Canceled, Closed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := callguardtest.NewClock()
			cb := New(WithClock(fake), WithConsecutiveFailures(2), WithSlowCallThreshold(100*time.Millisecond))
			for range 2 {
				err := cb.Do(context.Background(), func(context.Context) error {
					fake.Advance(tt.giveTake)
					return tt.giveErr
				})
				if err != tt.giveErr {
					t.Fatalf("Do(…) = %v, want %v unchanged", err, tt.giveErr)
				}
			}
			if got := cb.State(); got != tt.wantState {
				t.Errorf("State() = %v, want %v", got, tt.wantState)
			}
		})
	}
}

func TestSwitches(t *testing.T) {
	var ev events
	cb := New(WithConsecutiveFailures(1), WithOpenTimeout(time.Hour), OnStateChange(ev.hook))
	ran := 0
	count := func(context.Context) error { ran++; return nil }

	cb.ForceOpen()
	cb.ForceOpen() // no second event
	if err := cb.Do(context.Background(), count); !errors.Is(err, ErrOpen) || ran != 0 {
		t.Fatalf("forced open: Do(…) = %v, ran %d; want ErrOpen, 0", err, ran)
	}
	if got := cb.State(); got != ForcedOpen {
		t.Fatalf("State() = %v, want forced-open", got)
	}
	cb.Resume()
	if err := cb.Do(context.Background(), count); err != nil || ran != 1 {
		t.Fatalf("resumed: Do(…) = %v, ran %d; want nil, 1", err, ran)
	}

	cb.Disable()
	for range 5 { // failures are not counted: no trip
		if err := cb.Do(context.Background(), fail); err != errBoom {
			t.Fatalf("disabled: Do(…) = %v, want %v", err, errBoom)
		}
	}
	if got := cb.State(); got != Disabled {
		t.Fatalf("State() = %v, want disabled", got)
	}
	cb.Resume()
	if got := cb.State(); got != Closed {
		t.Fatalf("State() after Resume = %v, want closed", got)
	}

	trip(t, cb) // open by the counts, then forced open, then back: still open
	cb.ForceOpen()
	cb.Resume()
	if got := cb.State(); got != Open {
		t.Fatalf("State() = %v, want open", got)
	}
	cb.Resume() // no switch on: nothing
	want := "closed -> forced-open, forced-open -> closed, closed -> disabled, disabled -> closed, " +
		"closed -> open, open -> forced-open, forced-open -> open"
	if got := ev.take(); got != want {
		t.Errorf("events = %q,\nwant %q", got, want)
	}
}

func TestSwitchesHammer(t *testing.T) {
	t.Parallel()
	cb := New(WithConsecutiveFailures(2), WithOpenTimeout(time.Millisecond))
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 2000 {
				fn := succeed
				if (g+i)%3 == 0 {
					fn = fail
				}
				_ = cb.Do(context.Background(), fn)
				_ = cb.State()
			}
		})
	}
	wg.Go(func() {
		for range 300 {
			cb.ForceOpen()
			cb.Disable()
			cb.Resume()
		}
	})
	wg.Wait()
	cb.ForceOpen()
	if err := cb.Do(context.Background(), succeed); !errors.Is(err, ErrOpen) {
		t.Errorf("forced open after the hammer: Do(…) = %v, want ErrOpen", err)
	}
	cb.Resume()
	if got := cb.State(); got == ForcedOpen || got == Disabled {
		t.Errorf("State() after Resume = %v, want a state of the counts", got)
	}
}

func TestControlsAllocs(t *testing.T) {
	if testing.Short() || race.Enabled {
		t.Skip("alloc guard: skipped in short mode and under -race")
	}
	ctx := context.Background()
	slow := New(WithSlowCallThreshold(time.Second), WithClock(callguardtest.NewClock()))
	if n := testing.AllocsPerRun(100, func() { _ = slow.Do(ctx, succeed) }); n != 0 {
		t.Errorf("Do allocs with a slow-call threshold and a clock = %v, want 0", n)
	}
	forced := New()
	forced.ForceOpen()
	if n := testing.AllocsPerRun(100, func() { _ = forced.Do(ctx, succeed) }); n != 0 {
		t.Errorf("Do allocs forced open = %v, want 0", n)
	}
}
