package probe_test

import (
	"context"
	"errors"
	"math"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/callguardtest"
	"github.com/callguard/callguard/probe"
)

// ok is a step that succeeds.
func ok(name string) probe.Step {
	return probe.Step{Name: name, Do: func(context.Context) error { return nil }}
}

// results returns an OnResult option that sends every result on the
// returned channel.
func results() (probe.Option, <-chan probe.Result) {
	ch := make(chan probe.Result, 16)
	return probe.OnResult(func(r probe.Result) { ch <- r }), ch
}

// next returns the next result from ch; a safety net of 10 s of real time
// fails a test that would hang.
func next(t *testing.T, ch <-chan probe.Result) probe.Result {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no result after 10 s")
		return probe.Result{}
	}
}

func TestNewPanics(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		giveName  string
		giveSteps []probe.Step
		giveOpts  []probe.Option
		wantMsg   string
	}{
		{"empty name", "", []probe.Step{ok("a")}, nil, "probe: New with an empty name"},
		{"no steps", "p", nil, nil, "probe: New(p) with no steps"},
		{"unnamed step", "p", []probe.Step{ok("")}, nil, "probe: p: step 0 has no name"},
		{"nil Do", "p", []probe.Step{{Name: "a"}}, nil, "probe: p: step a has a nil Do"},
		{"duplicate", "p", []probe.Step{ok("a"), ok("a")}, nil, "probe: p: two steps named a"},
		{"zero interval", "p", []probe.Step{ok("a")}, []probe.Option{probe.WithInterval(0)}, "probe: interval must be > 0, got 0s"},
		{"negative jitter", "p", []probe.Step{ok("a")}, []probe.Option{probe.WithJitter(-0.1)}, "probe: jitter must be in [0, 1), got -0.1"},
		{"jitter 1", "p", []probe.Step{ok("a")}, []probe.Option{probe.WithJitter(1)}, "probe: jitter must be in [0, 1), got 1"},
		{"jitter NaN", "p", []probe.Step{ok("a")}, []probe.Option{probe.WithJitter(math.NaN())}, "probe: jitter must be in [0, 1), got NaN"},
		{"negative timeout", "p", []probe.Step{ok("a")}, []probe.Option{probe.WithTimeout(-time.Second)}, "probe: timeout must be >= 0, got -1s"},
		{"nil request ids", "p", []probe.Step{ok("a")}, []probe.Option{probe.WithRequestIDs(nil)}, "probe: WithRequestIDs(nil)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if got := recover(); got != tt.wantMsg {
					t.Errorf("panic = %v, want %q", got, tt.wantMsg)
				}
			}()
			probe.New(tt.giveName, tt.giveSteps, tt.giveOpts...)
		})
	}
}

// TestRun: a run's context is synthetic and carries the run's request id;
// each step's duration is measured by the prober's clock; the run ends at
// the first failure and skips the rest; the result goes to every hook and
// to Last.
func TestRun(t *testing.T) {
	t.Parallel()
	clk := callguardtest.NewClock()
	errDown := errors.New("payments down")
	var ids []string
	step := func(name string, d time.Duration, err error) probe.Step {
		return probe.Step{Name: name, Do: func(ctx context.Context) error {
			if !callguard.IsSynthetic(ctx) {
				t.Errorf("step %s: IsSynthetic = false, want true", name)
			}
			ids = append(ids, callguard.RequestIDFromContext(ctx))
			clk.Advance(d)
			return err
		}}
	}
	var hooks []string
	p := probe.New("checkout", []probe.Step{
		step("login", 30*time.Millisecond, nil),
		step("buy", 120*time.Millisecond, errDown),
		step("logout", time.Millisecond, nil),
	}, probe.WithClock(clk), probe.WithRequestIDs(func() string { return "run-1" }),
		probe.OnResult(func(r probe.Result) { hooks = append(hooks, "first "+r.RequestID) }),
		probe.OnResult(func(r probe.Result) { hooks = append(hooks, "second "+r.RequestID) }))
	if _, had := p.Last(); had {
		t.Fatal("Last before any run: had a result")
	}

	r := p.Run(context.Background())
	if r.Prober != "checkout" || r.RequestID != "run-1" || !r.Start.Equal(callguardtest.Start) || r.Duration != 150*time.Millisecond {
		t.Errorf("Run = %q, %q, start %v, %v, want checkout, run-1, %v, 150ms", r.Prober, r.RequestID, r.Start, r.Duration, callguardtest.Start)
	}
	want := []probe.StepResult{
		{Name: "login", Duration: 30 * time.Millisecond},
		{Name: "buy", Duration: 120 * time.Millisecond, Err: errDown},
		{Name: "logout", Skipped: true},
	}
	if len(r.Steps) != len(want) {
		t.Fatalf("Run steps = %+v, want %+v", r.Steps, want)
	}
	for i, s := range r.Steps {
		if s != want[i] {
			t.Errorf("step %d = %+v, want %+v", i, s, want[i])
		}
	}
	if strings.Join(ids, ",") != "run-1,run-1" {
		t.Errorf("request ids seen by the steps = %v, want run-1 twice", ids)
	}
	var se *probe.StepError
	if r.OK() || !errors.As(r.Err(), &se) || se.Step != "buy" || !errors.Is(r.Err(), errDown) {
		t.Errorf("Err = %v, want a *StepError for buy that matches errDown", r.Err())
	}
	if got, want := r.Err().Error(), "probe checkout: step buy: payments down [request run-1]"; got != want {
		t.Errorf("Err().Error() = %q, want %q", got, want)
	}
	if strings.Join(hooks, ",") != "first run-1,second run-1" {
		t.Errorf("hooks = %v, want both, in order", hooks)
	}
	if last, had := p.Last(); !had || last.RequestID != "run-1" {
		t.Errorf("Last = %v, %v, want run-1", last.RequestID, had)
	}
}

// TestRunIDs: every run gets a fresh request id, and an invalid one from
// WithRequestIDs is replaced.
func TestRunIDs(t *testing.T) {
	t.Parallel()
	p := probe.New("p", []probe.Step{ok("a")}, probe.WithClock(callguardtest.NewClock()))
	a, b := p.Run(context.Background()), p.Run(context.Background())
	if !callguard.ValidRequestID(a.RequestID) || a.RequestID == b.RequestID {
		t.Errorf("request ids %q, %q, want two valid, different ids", a.RequestID, b.RequestID)
	}
	bad := probe.New("p", []probe.Step{ok("a")}, probe.WithClock(callguardtest.NewClock()),
		probe.WithRequestIDs(func() string { return "bad id" }))
	if id := bad.Run(context.Background()).RequestID; !callguard.ValidRequestID(id) {
		t.Errorf("request id = %q, want a valid one in place of an invalid one", id)
	}
}

// TestSchedule: Start runs at once, then one interval after each run
// (jitter 0), on the prober's clock.
func TestSchedule(t *testing.T) {
	t.Parallel()
	clk := callguardtest.NewClock()
	hook, ch := results()
	p := probe.New("p", []probe.Step{ok("a")}, probe.WithClock(clk), probe.WithInterval(10*time.Second), probe.WithJitter(0), hook)
	p.Start()
	defer p.Stop()
	if r := next(t, ch); !r.Start.Equal(callguardtest.Start) || !r.OK() {
		t.Fatalf("first run at %v, ok %v, want at once, ok", r.Start, r.OK())
	}
	for i := 1; i <= 3; i++ {
		clk.BlockUntil(1) // the wait for the next run
		clk.Advance(10*time.Second - time.Nanosecond)
		clk.Advance(time.Nanosecond)
		want := callguardtest.Start.Add(time.Duration(i) * 10 * time.Second)
		if r := next(t, ch); !r.Start.Equal(want) {
			t.Errorf("run %d at %v, want %v", i+1, r.Start, want)
		}
	}
}

// TestStop: Stop cancels a run in flight, which is not reported, and
// returns after the prober's goroutine has ended (goleak checks the rest).
// Stop may come before Start and more than once; Start after Stop, or
// twice, panics.
func TestStop(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	var reported atomic.Int32
	p := probe.New("p", []probe.Step{{Name: "hang", Do: func(ctx context.Context) error {
		close(started)
		<-ctx.Done()
		return ctx.Err()
	}}}, probe.OnResult(func(probe.Result) { reported.Add(1) }))
	p.Start()
	mustPanic(t, "probe: p: Start called twice", p.Start)
	<-started
	p.Stop()
	p.Stop()
	if n := reported.Load(); n != 0 {
		t.Errorf("results reported = %d, want 0 for a run cut short by Stop", n)
	}
	if _, had := p.Last(); had {
		t.Error("Last after a run cut short: had a result")
	}
	mustPanic(t, "probe: p: Start after Stop", p.Start)

	q := probe.New("q", []probe.Step{ok("a")})
	q.Stop()
	mustPanic(t, "probe: q: Start after Stop", q.Start)
}

func mustPanic(t *testing.T, want string, f func()) {
	t.Helper()
	defer func() {
		if got := recover(); got != want {
			t.Errorf("panic = %v, want %q", got, want)
		}
	}()
	f()
}

// TestTimeout: a run that outlasts its timeout, by the prober's clock,
// ends with its context's cause, DeadlineExceeded, and skips the rest.
func TestTimeout(t *testing.T) {
	t.Parallel()
	clk := callguardtest.NewClock()
	p := probe.New("p", []probe.Step{
		{Name: "slow", Do: func(ctx context.Context) error {
			<-ctx.Done()
			return context.Cause(ctx)
		}},
		ok("after"),
	}, probe.WithClock(clk), probe.WithTimeout(5*time.Second))
	done := make(chan probe.Result)
	go func() { done <- p.Run(context.Background()) }()
	clk.BlockUntil(1)
	clk.Advance(5 * time.Second)
	var r probe.Result
	select {
	case r = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return 10 s after its timeout")
	}
	if !errors.Is(r.Steps[0].Err, context.DeadlineExceeded) || r.Steps[0].Duration != 5*time.Second || !r.Steps[1].Skipped {
		t.Errorf("steps = %+v, want slow: DeadlineExceeded after 5s, after: skipped", r.Steps)
	}
	if n := clk.Timers(); n != 0 {
		t.Errorf("timers left = %d, want 0", n)
	}
}

// TestSystemClockDeadline: with the system clock a run's context has a
// deadline, which the adapters send on.
func TestSystemClockDeadline(t *testing.T) {
	t.Parallel()
	var left time.Duration
	p := probe.New("p", []probe.Step{{Name: "a", Do: func(ctx context.Context) error {
		dl, ok := ctx.Deadline()
		if !ok {
			return errors.New("no deadline")
		}
		left = time.Until(dl)
		return nil
	}}}, probe.WithTimeout(time.Hour))
	if r := p.Run(context.Background()); !r.OK() || left <= 0 || left > time.Hour {
		t.Errorf("Run = %v, time left %v, want ok and in (0, 1h]", r.Err(), left)
	}
}

// TestPanicStep: a step that panics fails; the prober goes on.
func TestPanicStep(t *testing.T) {
	t.Parallel()
	p := probe.New("p", []probe.Step{{Name: "boom", Do: func(context.Context) error { panic("nil map") }}},
		probe.WithClock(callguardtest.NewClock()))
	r := p.Run(context.Background())
	if err := r.Steps[0].Err; err == nil || !strings.Contains(err.Error(), "step boom panicked: nil map") {
		t.Errorf("step error = %v, want the panic", err)
	}
}

// TestCallerCanceled: a run whose caller's context ended is returned but
// not reported.
func TestCallerCanceled(t *testing.T) {
	t.Parallel()
	var reported atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	p := probe.New("p", []probe.Step{{Name: "a", Do: func(context.Context) error { cancel(); return nil }}},
		probe.WithClock(callguardtest.NewClock()), probe.OnResult(func(probe.Result) { reported.Add(1) }))
	p.Run(ctx)
	if n := reported.Load(); n != 0 {
		t.Errorf("reported = %d, want 0", n)
	}
}

// TestRunsNeverOverlap: Run from many goroutines, and the schedule, run
// the script one at a time, and every run completes.
func TestRunsNeverOverlap(t *testing.T) {
	t.Parallel()
	var inFlight, most, runs atomic.Int32
	p := probe.New("p", []probe.Step{{Name: "a", Do: func(context.Context) error {
		n := inFlight.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		for range 10 {
			runtime.Gosched() // give another run the chance to start, if it may
		}
		runs.Add(1)
		inFlight.Add(-1)
		return nil
	}}}, probe.WithClock(callguardtest.NewClock()))
	p.Start()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				p.Run(context.Background())
			}
		})
	}
	wg.Wait()
	p.Stop()
	if m := most.Load(); m != 1 {
		t.Errorf("most runs at once = %d, want 1", m)
	}
	if n := runs.Load(); n < 400 {
		t.Errorf("runs = %d, want at least the 400 Run calls", n)
	}
}
