package loadshed

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/callguardtest"
	"github.com/callguard/callguard/internal/race"
)

var (
	_ callguard.Policy = (*Limiter)(nil)
	_ callguard.Policy = (*Throttle)(nil)
	_ callguard.Policy = (*RateLimit)(nil)
	_ callguard.Policy = (*KeyedRateLimit)(nil)
)

func ok(context.Context) error { return nil }

var (
	bg        = context.Background()
	critical  = NewContext(bg, Critical)
	sheddable = NewContext(bg, Sheddable)
)

// round admits n critical requests, lets rtt pass on clk, and releases
// them with o. It returns how many were admitted.
func round(t *testing.T, l *Limiter, clk *callguardtest.Clock, n int, rtt time.Duration, o Outcome) int {
	t.Helper()
	toks := make([]Token, 0, n)
	for range n {
		tok, err := l.Acquire(critical)
		if err != nil {
			break
		}
		toks = append(toks, tok)
	}
	clk.Advance(rtt)
	for _, tok := range toks {
		tok.Release(o)
	}
	return len(toks)
}

// rounds runs full rounds of rtt until d has passed.
func rounds(t *testing.T, l *Limiter, clk *callguardtest.Clock, d, rtt time.Duration, o Outcome) {
	t.Helper()
	for range d / rtt {
		round(t, l, clk, l.Limit(), rtt, o)
	}
}

func checkIdle(t *testing.T, l *Limiter) {
	t.Helper()
	if n, q := l.InFlight(), l.Queued(); n != 0 || q != 0 {
		t.Errorf("InFlight() = %d, Queued() = %d; want 0, 0", n, q)
	}
}

func TestNewPanics(t *testing.T) {
	tests := []struct {
		name      string
		giveOpts  []Option
		wantPanic string
	}{
		{"min limit", []Option{WithMinLimit(0)}, "loadshed: min limit must be >= 1, got 0"},
		{"max below min", []Option{WithMinLimit(5), WithMaxLimit(4)}, "loadshed: max limit must be >= min limit 5, got 4"},
		{"initial", []Option{WithInitialLimit(2000)}, "loadshed: initial limit must be in [3, 1000], got 2000"},
		{"fixed", []Option{WithFixedLimit(0)}, "loadshed: min limit must be >= 1, got 0"},
		{"algorithm", []Option{WithAlgorithm(nil)}, "loadshed: nil algorithm"},
		{"window", []Option{WithSampleWindow(0)}, "loadshed: sample window must be > 0, got 0s"},
		{"share", []Option{WithShare(Sheddable, 0)}, "loadshed: share of sheddable must be in (0, 1], got 0"},
		{"share order", []Option{WithShare(Default, 0.4)}, "loadshed: shares must not fall with the priority, got [0.5 0.4 1]"},
		{"share priority", []Option{WithShare(Priority(3), 0.5)}, "loadshed: invalid priority Priority(3)"},
		{"max wait", []Option{WithMaxWait(-1)}, "loadshed: max wait must be >= 0, got -1ns"},
		{"max queue", []Option{WithMaxQueue(-1)}, "loadshed: max queue must be >= 0, got -1"},
		{"service time", []Option{WithMinServiceTime(-1)}, "loadshed: min service time must be >= 0, got -1ns"},
		{"pushback", []Option{WithPushback(-1)}, "loadshed: pushback must be >= 0, got -1ns"},
		{"smoothing", []Option{WithAlgorithm(Gradient2{Smoothing: 2})}, "loadshed: Gradient2 smoothing must be in (0, 1], got 2"},
		{"tolerance", []Option{WithAlgorithm(Gradient2{Tolerance: 0.5})}, "loadshed: Gradient2 tolerance must be >= 1, got 0.5"},
		{"aimd backoff", []Option{WithAlgorithm(AIMD{Backoff: 1})}, "loadshed: AIMD backoff must be in [0.5, 1), got 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if got := recover(); got != tt.wantPanic {
					t.Errorf("New panic = %v, want %q", got, tt.wantPanic)
				}
			}()
			New(tt.giveOpts...)
		})
	}
}

func TestDoReturnsFnResult(t *testing.T) {
	l := New()
	want := errors.New("boom")
	err := l.Do(bg, func(context.Context) error {
		if got := l.InFlight(); got != 1 {
			t.Errorf("InFlight() during call = %d, want 1", got)
		}
		return want
	})
	if !errors.Is(err, want) {
		t.Errorf("Do(…) = %v, want %v", err, want)
	}
	if got := l.Limit(); got != DefaultInitialLimit {
		t.Errorf("Limit() = %d, want %d", got, DefaultInitialLimit)
	}
	checkIdle(t, l)
}

func TestDoDoneContext(t *testing.T) {
	l := New()
	ctx, cancel := context.WithCancel(bg)
	cancel()
	if err := l.Do(ctx, ok); !errors.Is(err, context.Canceled) {
		t.Errorf("Do(…) = %v, want %v", err, context.Canceled)
	}
	checkIdle(t, l)
}

func TestDoReleasesOnPanic(t *testing.T) {
	l := New()
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Errorf("recover() = %v, want boom", r)
			}
		}()
		_ = l.Do(bg, func(context.Context) error { panic("boom") })
	}()
	checkIdle(t, l)
}

func TestRelease(t *testing.T) {
	Token{}.Release(Success) // the zero Token does nothing
	l := New()
	tok, err := l.Acquire(critical)
	if err != nil || tok.Priority() != Critical {
		t.Fatalf("Acquire(…) = %v, %v; want a critical token", tok.Priority(), err)
	}
	tok.Release(Success)
	defer func() {
		if r := recover(); r != "loadshed: released more than acquired" {
			t.Errorf("second Release panic = %v, want loadshed: released more than acquired", r)
		}
		checkIdle(t, l)
	}()
	tok.Release(Success)
}

func TestOutcomeOf(t *testing.T) {
	tests := []struct {
		give error
		want Outcome
	}{
		{nil, Success},
		{errors.New("not found"), Success},
		{context.Canceled, Canceled},
		{fmt.Errorf("call: %w", context.DeadlineExceeded), Dropped},
		{callguard.Overloaded(0, nil), Ignored}, // a dependency's load, not ours
		{ErrShed, Ignored},
		{callguard.Overloaded(0, context.DeadlineExceeded), Ignored}, // a dependency's timeout, relayed
	}
	for _, tt := range tests {
		if got := OutcomeOf(tt.give); got != tt.want {
			t.Errorf("OutcomeOf(%v) = %v, want %v", tt.give, got, tt.want)
		}
	}
}

// countingClock counts the reads of the time.
type countingClock struct {
	callguard.Clock
	n atomic.Int64
}

func (c *countingClock) Now() time.Time { c.n.Add(1); return c.Clock.Now() }

func TestFixedLimit(t *testing.T) {
	clk := &countingClock{Clock: callguardtest.NewClock()}
	l := New(WithClock(clk), WithFixedLimit(4))
	clk.n.Store(0)
	var toks []Token
	for range 4 {
		tok, err := l.Acquire(critical)
		if err != nil {
			t.Fatalf("Acquire(…) = %v, want nil", err)
		}
		toks = append(toks, tok)
	}
	if _, err := l.Acquire(critical); !errors.Is(err, ErrShed) {
		t.Errorf("Acquire(…) over the fixed limit = %v, want %v", err, ErrShed)
	}
	for _, tok := range toks {
		tok.Release(Dropped)
	}
	if n := clk.n.Load(); n != 0 {
		t.Errorf("fixed mode read the clock %d times, want 0", n)
	}
	if got := l.Limit(); got != 4 {
		t.Errorf("Limit() = %d, want 4", got)
	}
	checkIdle(t, l)
}

// TestPriorityShares checks the share of a fixed limit of 10 that each
// priority may fill.
func TestPriorityShares(t *testing.T) {
	for _, tt := range []struct {
		give Priority
		want int
	}{{Sheddable, 5}, {Default, 7}, {Critical, 10}} {
		l := New(WithFixedLimit(10))
		ctx := NewContext(bg, tt.give)
		for range 20 {
			if _, err := l.Acquire(ctx); err != nil {
				break
			}
		}
		if got := l.InFlight(); got != tt.want {
			t.Errorf("%v requests admitted = %d, want %d", tt.give, got, tt.want)
		}
		if got := l.Shed(tt.give); got != 1 {
			t.Errorf("Shed(%v) = %d, want 1", tt.give, got)
		}
	}
}

// TestOutranked checks that while critical requests are refused,
// sheddable ones are refused too, though their share has room.
func TestOutranked(t *testing.T) {
	clk := callguardtest.NewClock()
	var shed []Priority
	l := New(WithClock(clk), WithPushback(time.Second), OnShed(func(_ context.Context, p Priority) { shed = append(shed, p) }))
	var toks []Token
	for range 40 { // 20 admitted, 20 refused
		if tok, err := l.Acquire(critical); err == nil {
			toks = append(toks, tok)
		}
	}
	for _, tok := range toks {
		tok.Release(Success)
	}
	_, err := l.Acquire(sheddable)
	var se *ShedError
	if !errors.As(err, &se) || se.Reason != ReasonPriority || se.Priority != Sheddable {
		t.Fatalf("Acquire(sheddable) after critical refusals = %v, want a shed for priority", err)
	}
	if len(shed) != 21 || shed[20] != Sheddable || l.Shed(Critical) != 20 || l.Shed(Sheddable) != 1 {
		t.Errorf("OnShed calls %v, Shed counts %d, %d; want 20 critical then sheddable", shed, l.Shed(Critical), l.Shed(Sheddable))
	}
	rounds(t, l, clk, 300*time.Millisecond, 10*time.Millisecond, Success) // two windows
	if err := l.Do(sheddable, ok); err != nil {
		t.Errorf("Do(sheddable) two windows later = %v, want nil", err)
	}
}

func TestShedErrors(t *testing.T) {
	l := New(WithFixedLimit(1))
	tok, _ := l.Acquire(bg)
	defer tok.Release(Success)
	err := l.Do(bg, ok)
	if err != ErrShed {
		t.Errorf("Do(…) over the limit = %v, want the preallocated ErrShed", err)
	}
	for _, target := range []error{ErrShed, callguard.ErrOverloaded, callguard.ErrRejected} {
		if !errors.Is(err, target) {
			t.Errorf("errors.Is(%v, %v) = false", err, target)
		}
	}
	if d, ok := callguard.Pushback(err); !ok || d != 0 || callguard.Retryable(err) {
		t.Errorf("Pushback(ErrShed) = %v, %v, Retryable %v; want 0, true, false", d, ok, callguard.Retryable(err))
	}

	lp := New(WithFixedLimit(1), WithPushback(50*time.Millisecond))
	tok2, _ := lp.Acquire(bg)
	defer tok2.Release(Success)
	err = lp.Do(critical, ok)
	want := &ShedError{Priority: Critical, Limit: 1, InFlight: 1, Delay: 50 * time.Millisecond, Reason: ReasonLimit}
	var se *ShedError
	if !errors.As(err, &se) || *se != *want {
		t.Fatalf("Do(…) with pushback = %#v, want %#v", err, want)
	}
	if d, ok := callguard.Pushback(err); !ok || d != 50*time.Millisecond {
		t.Errorf("Pushback(%v) = %v, %v; want 50ms, true", err, d, ok)
	}
	if got := err.Error(); got != "loadshed: shed critical request (limit, 1 in flight, limit 1), retry after 50ms" {
		t.Errorf("Error() = %q", got)
	}
	if errors.Is(err, ErrThrottled) || errors.Is(err, ErrRateLimited) || errors.Is(err, ErrDeadline) {
		t.Errorf("%v matches another reason's sentinel", err)
	}
}

func TestWrap(t *testing.T) {
	l := New(WithFixedLimit(1))
	p := callguard.Chain(l)
	err := p.Do(bg, func(context.Context) error {
		if err := p.Do(bg, ok); !errors.Is(err, ErrShed) {
			t.Errorf("nested Do(…) = %v, want %v", err, ErrShed)
		}
		return nil
	})
	if err != nil {
		t.Errorf("Do(…) = %v, want nil", err)
	}
	checkIdle(t, l)
}

// TestHammer runs many goroutines through small limiters and checks that
// no more calls run at once than the limit allows.
func TestHammer(t *testing.T) {
	tests := []struct {
		name     string
		giveMax  int
		giveOpts []Option
	}{
		{"fixed", 4, []Option{WithFixedLimit(4)}},
		{"adaptive", 6, []Option{WithMinLimit(2), WithMaxLimit(6), WithInitialLimit(4), WithSampleWindow(time.Microsecond)}},
		{"aimd", 6, []Option{WithMaxLimit(6), WithInitialLimit(4), WithAlgorithm(AIMD{}), WithSampleWindow(time.Microsecond)}},
		{"wait", 4, []Option{WithFixedLimit(4), WithMaxWait(time.Hour)}},
		{"short wait", 4, []Option{WithFixedLimit(4), WithMaxWait(20 * time.Microsecond), WithMaxQueue(3)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := New(tt.giveOpts...)
			var running atomic.Int64
			body := func(context.Context) error {
				if n := running.Add(1); n > int64(tt.giveMax) {
					t.Errorf("%d calls running, max %d", n, tt.giveMax)
				}
				runtime.Gosched()
				running.Add(-1)
				return nil
			}
			t.Run("group", func(t *testing.T) {
				for i := range 8 {
					ctx := NewContext(bg, Priority(i%3-1))
					t.Run(fmt.Sprint(i), func(t *testing.T) {
						t.Parallel()
						for range 300 {
							if err := l.Do(ctx, body); err != nil && !errors.Is(err, ErrShed) {
								t.Errorf("Do(…) = %v, want nil or ErrShed", err)
							}
						}
					})
				}
			})
			checkIdle(t, l)
		})
	}
}

func TestDoAllocs(t *testing.T) {
	if testing.Short() || race.Enabled {
		t.Skip("allocation guard: skipped in -short and under -race")
	}
	l := New()
	full := New(WithFixedLimit(1))
	tok, _ := full.Acquire(bg)
	defer tok.Release(Success)
	th := NewThrottle()
	chain := callguard.Chain(l)
	tests := []struct {
		name string
		fn   func()
	}{
		{"Do", func() { _ = l.Do(bg, ok) }},
		{"Do critical", func() { _ = l.Do(critical, ok) }},
		{"Chain Do", func() { _ = chain.Do(bg, ok) }},
		{"Acquire Release", func() { tok, _ := l.Acquire(bg); tok.Release(Success) }},
		{"Do shed", func() { _ = full.Do(bg, ok) }},
		{"Throttle Do", func() { _ = th.Do(bg, ok) }},
		{"Throttle Do rejected", func() { _ = th.Do(bg, func(context.Context) error { return ErrShed }) }},
	}
	for _, tt := range tests {
		tt.fn() // warm up
		if n := testing.AllocsPerRun(100, tt.fn); n != 0 {
			t.Errorf("%s allocs = %v, want 0", tt.name, n)
		}
	}
}

// TestOnShedContext checks that the hook gets the refused request's
// context, with its request id, on every path that sheds.
func TestOnShedContext(t *testing.T) {
	clk := callguardtest.NewClock()
	var ids []string
	l := New(WithClock(clk), WithFixedLimit(1), WithMaxWait(time.Second), WithMaxQueue(1),
		OnShed(func(ctx context.Context, _ Priority) { ids = append(ids, callguard.RequestIDFromContext(ctx)) }))
	tok, err := l.Acquire(bg)
	if err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() {
		_, err := l.Acquire(callguard.ContextWithRequestID(bg, "queued")) // times out in the queue
		waited <- err
	}()
	clk.BlockUntil(1)
	if _, err := l.Acquire(callguard.ContextWithRequestID(bg, "full")); !errors.Is(err, ErrShed) {
		t.Errorf("Acquire with a full queue = %v, want ErrShed", err)
	}
	clk.Advance(time.Second)
	if err := <-waited; !errors.Is(err, ErrShed) {
		t.Errorf("Acquire that waited too long = %v, want ErrShed", err)
	}
	tok.Release(Success)
	if got, want := fmt.Sprint(ids), "[full queued]"; got != want {
		t.Errorf("OnShed saw request ids %s, want %s", got, want)
	}
}
