package loadshed

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/callguardtest"
)

// retry marks a context as the inbound request of a retry, as the adapters
// do when Callguard-Attempt says 2.
var retryCtx = callguard.ContextWithInboundAttempt(bg, 2)

// TestRetryShareFixed: with a fixed limit of 10 open to default requests,
// retries fill 9 slots and the tenth is kept for a first attempt.
func TestRetryShareFixed(t *testing.T) {
	l := New(WithFixedLimit(10), WithShare(Default, 1), WithPushback(time.Second))
	var toks []Token
	for i := range 9 {
		tok, err := l.Acquire(retryCtx)
		if err != nil {
			t.Fatalf("retry %d: Acquire = %v, want a slot (9 of 10 are open to retries)", i+1, err)
		}
		toks = append(toks, tok)
	}
	_, err := l.Acquire(retryCtx)
	var se *ShedError
	if !errors.As(err, &se) || se.Reason != ReasonRetry || !errors.Is(err, ErrShed) {
		t.Fatalf("tenth retry: Acquire = %v, want a ShedError with reason %q", err, ReasonRetry)
	}
	tok, err := l.Acquire(bg)
	if err != nil {
		t.Fatalf("first attempt: Acquire = %v, want the slot kept for it", err)
	}
	toks = append(toks, tok)
	if got := l.ShedRetries(); got != 1 {
		t.Errorf("ShedRetries() = %d, want 1", got)
	}
	if got := l.Shed(Default); got != 1 {
		t.Errorf("Shed(Default) = %d, want 1", got)
	}
	for _, tok := range toks {
		tok.Release(Success)
	}
	checkIdle(t, l)
}

// TestRetryShareOne: share 1 treats retries as first attempts.
func TestRetryShareOne(t *testing.T) {
	l := New(WithFixedLimit(4), WithShare(Default, 1), WithRetryShare(1))
	for i := range 4 {
		if _, err := l.Acquire(retryCtx); err != nil {
			t.Fatalf("retry %d: Acquire = %v, want a slot", i+1, err)
		}
	}
	if got := l.ShedRetries(); got != 0 {
		t.Errorf("ShedRetries() = %d, want 0", got)
	}
}

// TestRetryOutranked: once a first attempt of its priority was refused, a
// retry is refused though a slot is free, and a first attempt is not.
func TestRetryOutranked(t *testing.T) {
	clk := callguardtest.NewClock()
	l := New(WithInitialLimit(10), WithClock(clk))
	var toks []Token
	for {
		tok, err := l.Acquire(critical)
		if err != nil {
			break // a critical first attempt refused: the limit is full
		}
		toks = append(toks, tok)
	}
	toks[0].Release(Success)
	criticalRetry := NewContext(retryCtx, Critical)
	if _, err := l.Acquire(criticalRetry); !errors.Is(err, ErrShed) {
		t.Errorf("critical retry after a critical refusal: Acquire = %v, want ErrShed", err)
	}
	tok, err := l.Acquire(critical)
	if err != nil {
		t.Fatalf("critical first attempt: Acquire = %v, want the free slot", err)
	}
	tok.Release(Success)
	for _, tok := range toks[1:] {
		tok.Release(Success)
	}
	checkIdle(t, l)
}

// TestRetriesShedFirst overloads an adaptive limiter on a fake clock with
// as many retries as first attempts, twice what it admits, round after
// round: the retries are refused more often than the first attempts.
func TestRetriesShedFirst(t *testing.T) {
	clk := callguardtest.NewClock()
	l := New(WithInitialLimit(20), WithClock(clk))
	admitted := map[bool]int{}
	offered := map[bool]int{}
	for range 200 { // 200 rounds of 10 ms: 20 sampling windows
		var toks []Token
		for i := range 2 * l.Limit() {
			retry := i%2 == 1
			ctx := bg
			if retry {
				ctx = retryCtx
			}
			offered[retry]++
			if tok, err := l.Acquire(ctx); err == nil {
				admitted[retry]++
				toks = append(toks, tok)
			}
		}
		clk.Advance(10 * time.Millisecond)
		for _, tok := range toks {
			tok.Release(Success)
		}
	}
	first := float64(admitted[false]) / float64(offered[false])
	retries := float64(admitted[true]) / float64(offered[true])
	t.Logf("admitted: first attempts %.1f%%, retries %.1f%%", 100*first, 100*retries)
	if retries >= first {
		t.Errorf("retries admitted %.3f of the time, first attempts %.3f: want retries shed first", retries, first)
	}
	if first < 0.3 {
		t.Errorf("first attempts admitted %.3f of the time, want at least 0.3 under a 2x overload", first)
	}
	checkIdle(t, l)
}

func TestWithRetrySharePanics(t *testing.T) {
	for _, give := range []float64{0, -0.5, 1.5} {
		t.Run(fmt.Sprint(give), func(t *testing.T) {
			want := fmt.Sprintf("loadshed: retry share must be in (0, 1], got %v", give)
			defer func() {
				if got := fmt.Sprint(recover()); got != want {
					t.Errorf("panic = %q, want %q", got, want)
				}
			}()
			New(WithRetryShare(give))
		})
	}
}
