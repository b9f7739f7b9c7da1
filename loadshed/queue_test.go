package loadshed

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/callguard/callguard/callguardtest"
)

// held returns a limiter with a fixed limit of 1, whose slot is taken, and
// the token that holds it.
func held(t *testing.T, opts ...Option) (*Limiter, Token) {
	t.Helper()
	l := New(append([]Option{WithFixedLimit(1)}, opts...)...)
	tok, err := l.Acquire(bg)
	if err != nil {
		t.Fatalf("Acquire(…) = %v", err)
	}
	return l, tok
}

// startDo runs l.Do(ctx, fn) in a goroutine and returns its result.
func startDo(l *Limiter, ctx context.Context, fn func(context.Context) error) <-chan error {
	errc := make(chan error, 1)
	go func() { errc <- l.Do(ctx, fn) }()
	return errc
}

// reason returns the Reason of err, a *ShedError.
func reason(err error) Reason {
	var se *ShedError
	if errors.As(err, &se) {
		return se.Reason
	}
	return ""
}

func TestWaitGetsReleasedSlot(t *testing.T) {
	clk := callguardtest.NewClock()
	l, tok := held(t, WithClock(clk), WithMaxWait(time.Second))
	errc := startDo(l, bg, ok)
	clk.BlockUntil(1)
	if got := l.Queued(); got != 1 {
		t.Errorf("Queued() = %d, want 1", got)
	}
	tok.Release(Success)
	if err := <-errc; err != nil {
		t.Errorf("Do(…) = %v, want nil", err)
	}
	if n := clk.Timers(); n != 0 {
		t.Errorf("Timers() = %d after the wait, want 0", n)
	}
	checkIdle(t, l)
}

func TestWaitTimesOut(t *testing.T) {
	clk := callguardtest.NewClock()
	l, tok := held(t, WithClock(clk), WithMaxWait(time.Second), WithPushback(time.Second))
	errc := startDo(l, bg, ok)
	clk.BlockUntil(1)
	clk.Advance(time.Second - 1)
	select {
	case err := <-errc:
		t.Fatalf("Do(…) = %v before the wait expired", err)
	default:
	}
	clk.Advance(1)
	if err := <-errc; !errors.Is(err, ErrShed) || reason(err) != ReasonQueueTimeout {
		t.Errorf("Do(…) = %v, want a queue timeout", err)
	}
	tok.Release(Success)
	checkIdle(t, l)
}

func TestWaitContextCanceled(t *testing.T) {
	clk := callguardtest.NewClock()
	l, tok := held(t, WithClock(clk), WithMaxWait(time.Second))
	ctx, cancel := context.WithCancel(bg)
	errc := startDo(l, ctx, ok)
	clk.BlockUntil(1)
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("Do(…) = %v, want %v", err, context.Canceled)
	}
	tok.Release(Success)
	checkIdle(t, l)
}

func TestQueueFull(t *testing.T) {
	clk := callguardtest.NewClock()
	l, tok := held(t, WithClock(clk), WithMaxWait(time.Second), WithMaxQueue(1), WithPushback(time.Second))
	first := startDo(l, bg, ok)
	clk.BlockUntil(1)
	if err := l.Do(bg, ok); reason(err) != ReasonQueueFull {
		t.Errorf("Do(…) on a full queue = %v, want a queue-full shed", err)
	}
	if err := l.Do(sheddable, ok); reason(err) != ReasonQueueFull {
		t.Errorf("Do(sheddable) on a full queue = %v, want a queue-full shed", err)
	}
	tok.Release(Success)
	if err := <-first; err != nil {
		t.Errorf("queued Do(…) = %v, want nil", err)
	}
	checkIdle(t, l)
}

// TestQueueEvicts checks that a critical request finding the queue full
// takes the place of a sheddable waiter.
func TestQueueEvicts(t *testing.T) {
	clk := callguardtest.NewClock()
	l, tok := held(t, WithClock(clk), WithMaxWait(time.Second), WithMaxQueue(1), WithPushback(time.Second))
	shed := startDo(l, sheddable, ok)
	clk.BlockUntil(1)
	crit := startDo(l, critical, ok)
	if err := <-shed; reason(err) != ReasonQueueFull {
		t.Errorf("evicted Do(sheddable) = %v, want a queue-full shed", err)
	}
	clk.BlockUntil(1)
	tok.Release(Success)
	if err := <-crit; err != nil {
		t.Errorf("Do(critical) = %v, want nil", err)
	}
	if l.Shed(Sheddable) != 1 || l.Shed(Critical) != 0 {
		t.Errorf("Shed() = %d sheddable, %d critical; want 1, 0", l.Shed(Sheddable), l.Shed(Critical))
	}
	checkIdle(t, l)
}

// TestWaitOrder checks that waiters are served critical first, then within
// a priority oldest first, or newest first in LIFO mode.
func TestWaitOrder(t *testing.T) {
	for _, tt := range []struct {
		mode queueMode
		want string
	}{{codelFIFO, "critical old new sheddable"}, {modeLIFO, "critical new old sheddable"}} {
		clk := callguardtest.NewClock()
		l, tok := held(t, WithClock(clk), WithMaxWait(time.Second), WithMaxQueue(4), withQueueMode(tt.mode))
		order := make(chan string, 4)
		var errcs []<-chan error
		for i, w := range []struct {
			name string
			ctx  context.Context
		}{{"sheddable", sheddable}, {"old", bg}, {"new", bg}, {"critical", critical}} {
			errcs = append(errcs, startDo(l, w.ctx, func(context.Context) error { order <- w.name; return nil }))
			clk.BlockUntil(i + 1)
		}
		tok.Release(Success)
		for _, errc := range errcs {
			if err := <-errc; err != nil {
				t.Errorf("Do(…) = %v, want nil", err)
			}
		}
		close(order)
		var got string
		for name := range order {
			got += " " + name
		}
		if got[1:] != tt.want {
			t.Errorf("mode %d: order = %q, want %q", tt.mode, got[1:], tt.want)
		}
		checkIdle(t, l)
	}
}

// TestWaitCoDel checks that once the queue has not been empty for 100ms,
// new waiters wait at most 5ms.
func TestWaitCoDel(t *testing.T) {
	clk := callguardtest.NewClock()
	l, tok := held(t, WithClock(clk), WithMaxWait(time.Second), WithMaxQueue(4), WithPushback(time.Second))
	first := startDo(l, bg, ok)
	clk.BlockUntil(1)
	clk.Advance(150 * time.Millisecond)
	second := startDo(l, bg, ok)
	clk.BlockUntil(2)
	clk.Advance(5 * time.Millisecond)
	if err := <-second; reason(err) != ReasonQueueTimeout {
		t.Errorf("Do(…) in a standing queue = %v, want a queue timeout after 5ms", err)
	}
	tok.Release(Success)
	if err := <-first; err != nil {
		t.Errorf("first Do(…) = %v, want nil", err)
	}
	checkIdle(t, l)
}
