package probe

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/callguard/callguard"
)

// A Step is one named step of a synthetic transaction: Do makes one call,
// with the run's context, and returns nil when the step succeeded.
type Step struct {
	Name string
	Do   func(ctx context.Context) error
}

// A Result is the outcome of one run of a [Prober]'s script.
type Result struct {
	Prober    string        // the prober's name
	RequestID string        // the run's request id, sent with every call of the run
	Start     time.Time     // when the run started, by the prober's clock
	Duration  time.Duration // the whole run
	Steps     []StepResult  // one per step, in the script's order
}

// A StepResult is the outcome of one step of a run.
type StepResult struct {
	Name     string
	Duration time.Duration // zero for a skipped step
	Err      error         // nil if the step succeeded or was skipped
	Skipped  bool          // not run: an earlier step failed
}

// OK reports whether every step of the run succeeded.
func (r Result) OK() bool { return r.Err() == nil }

// Err returns the failure of the run, a [*StepError] for the step that
// failed, or nil if every step succeeded.
func (r Result) Err() error {
	for _, s := range r.Steps {
		if s.Err != nil {
			return &StepError{Prober: r.Prober, Step: s.Name, RequestID: r.RequestID, Err: s.Err}
		}
	}
	return nil
}

// A StepError is the failure of one step of a run. It names the prober,
// the step and the run's request id, under which the logs of every
// service the run reached can be found. errors.Is and errors.As see
// through it.
type StepError struct {
	Prober, Step, RequestID string
	Err                     error
}

func (e *StepError) Error() string {
	return "probe " + e.Prober + ": step " + e.Step + ": " + e.Err.Error() + " [request " + e.RequestID + "]"
}

// Unwrap returns the step's error.
func (e *StepError) Unwrap() error { return e.Err }

// A Prober runs a synthetic transaction, a script of steps, on a schedule
// (see the package documentation). It is safe for concurrent use. Make
// one with [New]; the zero value is not usable.
type Prober struct {
	name  string
	steps []Step
	opts  options

	runMu sync.Mutex // held for a run: runs never overlap

	mu      sync.Mutex // guards the fields below
	state   int        // idle, running or stopped
	stop    context.CancelFunc
	done    chan struct{} // closed when the loop has ended
	last    Result
	hasLast bool
}

const (
	idle = iota
	running
	stopped
)

// New returns a Prober named name that runs steps, in order. It panics,
// with a message that starts "probe: ", if name is empty, steps is empty,
// a step has no name or no Do, two steps have the same name, or an
// option's value is out of range. The steps are copied.
func New(name string, steps []Step, opts ...Option) *Prober {
	if name == "" {
		panic("probe: New with an empty name")
	}
	if len(steps) == 0 {
		panic("probe: New(" + name + ") with no steps")
	}
	seen := make(map[string]bool, len(steps))
	for i, s := range steps {
		switch {
		case s.Name == "":
			panic(fmt.Sprintf("probe: %s: step %d has no name", name, i))
		case s.Do == nil:
			panic(fmt.Sprintf("probe: %s: step %s has a nil Do", name, s.Name))
		case seen[s.Name]:
			panic(fmt.Sprintf("probe: %s: two steps named %s", name, s.Name))
		}
		seen[s.Name] = true
	}
	o := options{interval: DefaultInterval, jitter: DefaultJitter, clock: callguard.SystemClock, requestID: callguard.NewRequestID}
	for _, opt := range opts {
		opt.apply(&o)
	}
	switch {
	case o.interval <= 0:
		panic("probe: interval must be > 0, got " + o.interval.String())
	case !(o.jitter >= 0 && o.jitter < 1): // NaN too
		panic(fmt.Sprintf("probe: jitter must be in [0, 1), got %v", o.jitter))
	case o.timeout < 0:
		panic("probe: timeout must be >= 0, got " + o.timeout.String())
	}
	if o.timeout == 0 {
		o.timeout = o.interval
	}
	if o.clock == nil {
		o.clock = callguard.SystemClock
	}
	return &Prober{name: name, steps: append([]Step(nil), steps...), opts: o}
}

// Name returns the prober's name.
func (p *Prober) Name() string { return p.name }

// Start starts the schedule in a goroutine of its own: a run now, then
// one each interval after the previous run ended. It panics if the prober
// was started or stopped before.
func (p *Prober) Start() {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch p.state {
	case running:
		panic("probe: " + p.name + ": Start called twice")
	case stopped:
		panic("probe: " + p.name + ": Start after Stop")
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.state, p.stop, p.done = running, cancel, make(chan struct{})
	go p.loop(ctx, p.done)
}

// Stop ends the schedule: it cancels a run in flight, which is not
// reported, and returns when the prober's goroutine has ended. It may be
// called more than once, and before Start.
func (p *Prober) Stop() {
	p.mu.Lock()
	was, done := p.state, p.done
	p.state = stopped
	if was == running {
		p.stop()
	}
	p.mu.Unlock()
	if was == running {
		<-done
	}
}

// Last returns the result of the last run that was reported, and whether
// there was one.
func (p *Prober) Last() (Result, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last, p.hasLast
}

// loop runs the schedule until ctx ends, then closes done.
func (p *Prober) loop(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	for {
		p.Run(ctx)
		t := p.opts.clock.NewTimer(p.wait())
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C():
		}
	}
}

// wait returns the time until the next run: the interval, moved by the
// jitter.
func (p *Prober) wait() time.Duration {
	j := p.opts.jitter * (2*rand.Float64() - 1) // in (-jitter, jitter)
	return time.Duration(float64(p.opts.interval) * (1 + j))
}

// Run runs the script once, now, after any run in flight, and returns its
// result. The run's context derives from ctx, marked synthetic, with a
// new request id and the prober's timeout. The result goes to the
// [OnResult] hooks and [Prober.Last], unless ctx ended during the run: a
// run cut short by its caller (or by Stop) says nothing about the system.
func (p *Prober) Run(ctx context.Context) Result {
	p.runMu.Lock()
	defer p.runMu.Unlock()
	id := p.opts.requestID()
	if !callguard.ValidRequestID(id) {
		id = callguard.NewRequestID()
	}
	rctx, cancel := p.runContext(callguard.ContextWithRequestID(callguard.ContextWithSynthetic(ctx), id))
	clk := p.opts.clock
	r := Result{Prober: p.name, RequestID: id, Start: clk.Now(), Steps: make([]StepResult, len(p.steps))}
	failed := false
	for i, s := range p.steps {
		r.Steps[i].Name = s.Name
		if failed {
			r.Steps[i].Skipped = true
			continue
		}
		start := clk.Now()
		err := call(rctx, s)
		r.Steps[i].Duration, r.Steps[i].Err = clk.Now().Sub(start), err
		failed = err != nil
	}
	r.Duration = clk.Now().Sub(r.Start)
	cancel()
	if ctx.Err() != nil {
		return r
	}
	p.mu.Lock()
	p.last, p.hasLast = r, true
	p.mu.Unlock()
	for _, f := range p.opts.onResult {
		f(r)
	}
	return r
}

// call runs step s with ctx. A panic in the step is its failure: the
// prober runs in the background, where a panic would end the process.
func call(ctx context.Context, s Step) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("probe: step %s panicked: %v", s.Name, v)
		}
	}()
	return s.Do(ctx)
}

// runContext returns ctx bounded by the prober's timeout, and the function
// that releases it. With the system clock it is a deadline, which the
// adapters send on; with another clock, a timer of that clock cancels
// ctx, with the cause context.DeadlineExceeded.
func (p *Prober) runContext(ctx context.Context) (context.Context, func()) {
	if p.opts.clock == callguard.SystemClock {
		return context.WithTimeout(ctx, p.opts.timeout)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	t := p.opts.clock.NewTimer(p.opts.timeout)
	release, ended := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(ended)
		select {
		case <-t.C():
			cancel(context.DeadlineExceeded)
		case <-release:
		}
	}()
	return ctx, func() {
		t.Stop()
		close(release)
		<-ended
		cancel(context.Canceled)
	}
}
