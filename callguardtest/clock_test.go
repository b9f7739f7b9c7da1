package callguardtest_test

import (
	"testing"
	"time"

	"github.com/callguard/callguard/callguardtest"
)

func TestClock(t *testing.T) {
	t.Parallel()
	clk := callguardtest.NewClock()
	if got := clk.Now(); !got.Equal(callguardtest.Start) {
		t.Fatalf("Now() = %v, want %v", got, callguardtest.Start)
	}
	a, b := clk.NewTimer(time.Second), clk.NewTimer(2*time.Second)
	select {
	case <-clk.NewTimer(0).C():
	default:
		t.Error("NewTimer(0) did not fire at once")
	}
	clk.BlockUntil(2)
	clk.Advance(time.Second)
	select {
	case at := <-a.C():
		if want := callguardtest.Start.Add(time.Second); !at.Equal(want) {
			t.Errorf("timer fired at %v, want %v", at, want)
		}
	default:
		t.Fatal("1s timer did not fire after Advance(1s)")
	}
	select {
	case <-b.C():
		t.Fatal("2s timer fired after Advance(1s)")
	default:
	}
	if n := clk.Timers(); n != 1 {
		t.Errorf("Timers() = %d, want 1", n)
	}
	if !b.Stop() {
		t.Error("Stop() of a waiting timer = false, want true")
	}
	if a.Stop() {
		t.Error("Stop() of a fired timer = true, want false")
	}
	clk.Advance(time.Hour)
	select {
	case <-b.C():
		t.Error("stopped timer fired")
	default:
	}
}

func TestClockBlockUntilWakes(t *testing.T) {
	t.Parallel()
	clk := callguardtest.NewClock()
	done := make(chan struct{})
	go func() {
		clk.BlockUntil(1)
		close(done)
	}()
	clk.NewTimer(time.Second)
	<-done // a BlockUntil that missed the new timer would hang for a minute, then panic
}
