package observe_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/breaker"
	"github.com/callguard/callguard/bulkhead"
	"github.com/callguard/callguard/hedge"
	"github.com/callguard/callguard/loadshed"
	"github.com/callguard/callguard/observe"
	"github.com/callguard/callguard/retry"
	"github.com/callguard/callguard/ttl"
)

var errDown = errors.New("downstream down")

func fail(context.Context) error { return errDown }
func ok(context.Context) error   { return nil }

// recorder is a Sink that keeps everything it receives.
type recorder struct {
	mu     sync.Mutex
	bound  []string
	events []observe.Event
	ms     []observe.Measurement
}

func (r *recorder) Bind(inst *observe.Instance) observe.Recorder {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.bound = append(r.bound, string(inst.Kind())+"/"+inst.Name())
	return r
}

func (r *recorder) Event(_ context.Context, e observe.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func (r *recorder) Measure(_ context.Context, m observe.Measurement) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ms = append(r.ms, m)
}

func (r *recorder) of(t observe.EventType) []observe.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []observe.Event
	for _, e := range r.events {
		if e.Type == t {
			out = append(out, e)
		}
	}
	return out
}

func stateOf(t *testing.T, o *observe.Observer, kind observe.Kind, name string) observe.State {
	t.Helper()
	for _, st := range o.Snapshot().Policies {
		if st.Kind == kind && st.Name == name {
			return st
		}
	}
	t.Fatalf("Snapshot has no %s %q", kind, name)
	return observe.State{}
}

func TestBreakerTransitionAndRefusal(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	o := observe.New(observe.WithSink(rec))
	cb := o.Watch("payments", breaker.New(append(o.Breaker("payments"), breaker.WithConsecutiveFailures(2), breaker.WithOpenTimeout(time.Hour))...))
	ctx := callguard.ContextWithRequestID(context.Background(), "req-42")
	for range 2 {
		if err := cb.Do(ctx, fail); !errors.Is(err, errDown) {
			t.Fatalf("Do(fail) = %v, want %v", err, errDown)
		}
	}
	if err := cb.Do(ctx, ok); !errors.Is(err, breaker.ErrOpen) {
		t.Fatalf("Do on an open breaker = %v, want ErrOpen", err)
	}

	tr := rec.of(observe.EventTransition)
	if len(tr) != 1 || tr[0].From != "closed" || tr[0].To != "open" || tr[0].Name != "payments" || tr[0].Kind != observe.KindBreaker {
		t.Errorf("transitions = %+v, want one closed -> open of breaker payments", tr)
	}
	ref := rec.of(observe.EventRefusal)
	if len(ref) != 1 || ref[0].Reason != observe.ReasonOpen || ref[0].RequestID != "req-42" || !errors.Is(ref[0].Err, breaker.ErrOpen) {
		t.Errorf("refusals = %+v, want one for reason open with request id req-42", ref)
	}
	st := stateOf(t, o, observe.KindBreaker, "payments")
	if st.Breaker == nil || st.Breaker.State != "open" || st.Breaker.Transitions != 1 || st.Breaker.OpenUntil.IsZero() {
		t.Errorf("Breaker state = %+v, want open, 1 transition, an open-until time", st.Breaker)
	}
	if st.Calls != 3 || st.Failures != 2 || st.Refusals[observe.ReasonOpen] != 1 {
		t.Errorf("calls, failures, refusals = %d, %d, %v; want 3, 2, map[open:1]", st.Calls, st.Failures, st.Refusals)
	}
	var outcomes []string
	for _, m := range rec.ms {
		outcomes = append(outcomes, m.Outcome.String()+":"+m.Reason)
	}
	if got, want := strings.Join(outcomes, " "), "failure: failure: refused:open"; got != want {
		t.Errorf("measured outcomes = %q, want %q", got, want)
	}
}

func TestRetryAttemptsAndGiveUp(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	o := observe.New(observe.WithSink(rec))
	r := o.Watch("inventory", retry.New(append(o.Retry("inventory"), retry.WithMaxAttempts(3), retry.WithBackoff(time.Microsecond, time.Microsecond))...))
	n := 0
	flaky := func(context.Context) error {
		n++
		if n < 3 {
			return errDown
		}
		return nil
	}
	if err := r.Do(context.Background(), flaky); err != nil {
		t.Fatalf("Do(flaky) = %v, want nil", err)
	}
	if err := r.Do(context.Background(), fail); !errors.Is(err, retry.ErrExhausted) {
		t.Fatalf("Do(fail) = %v, want ErrExhausted", err)
	}
	retries := rec.of(observe.EventRetry)
	if len(retries) != 4 || retries[0].Attempt != 1 || retries[1].Attempt != 2 || !errors.Is(retries[0].Err, errDown) {
		t.Errorf("retry events = %+v, want 4, attempts 1, 2, 1, 2", retries)
	}
	giveUps := rec.of(observe.EventGiveUp)
	if len(giveUps) != 1 || giveUps[0].Reason != "attempts" || giveUps[0].Attempt != 3 {
		t.Errorf("give-ups = %+v, want one for reason attempts after 3", giveUps)
	}
	st := stateOf(t, o, observe.KindRetry, "inventory")
	if st.Retry == nil || st.Retry.Attempts != 6 || st.Retry.Retries != 4 || st.Retry.GiveUps != 1 || st.Calls != 2 {
		t.Errorf("retry state = %+v, calls %d; want 6 attempts, 4 retries, 1 give-up, 2 calls", st.Retry, st.Calls)
	}
	attempts := 0
	for _, m := range rec.ms {
		if m.Stage == observe.StageAttempt {
			attempts++
		}
	}
	if attempts != 6 {
		t.Errorf("attempt measurements = %d, want 6", attempts)
	}
}

func TestRefusalsByKind(t *testing.T) {
	t.Parallel()
	o := observe.New()
	ctx := loadshed.NewContext(context.Background(), loadshed.Sheddable)

	bh := bulkhead.New(1)
	wb := o.Watch("db", bh)
	if !bh.TryAcquire() {
		t.Fatal("TryAcquire on an empty bulkhead = false")
	}
	if err := wb.Do(ctx, ok); !errors.Is(err, bulkhead.ErrFull) {
		t.Fatalf("Do on a full bulkhead = %v, want ErrFull", err)
	}
	if st := stateOf(t, o, observe.KindBulkhead, "db"); st.Bulkhead == nil || st.Bulkhead.InFlight != 1 || st.Bulkhead.Limit != 1 || st.Refusals["full"] != 1 {
		t.Errorf("bulkhead state = %+v %v, want 1 of 1 in flight, 1 refused full", st.Bulkhead, st.Refusals)
	}
	bh.Release()

	lim := loadshed.New(append(o.Limiter("api"), loadshed.WithFixedLimit(1))...)
	wl := o.Watch("api", lim)
	tok, err := lim.Acquire(context.Background())
	if err != nil {
		t.Fatalf("Acquire = %v", err)
	}
	if err := wl.Do(ctx, ok); !errors.Is(err, loadshed.ErrShed) {
		t.Fatalf("Do over the limit = %v, want ErrShed", err)
	}
	tok.Release(loadshed.OutcomeOf(nil))
	st := stateOf(t, o, observe.KindLimiter, "api")
	if st.Limiter == nil || st.Limiter.Limit != 1 || st.Shed["sheddable"] != 1 || len(st.Refusals) != 1 {
		t.Errorf("limiter state = %+v, shed %v, refusals %v; want limit 1, 1 sheddable shed", st.Limiter, st.Shed, st.Refusals)
	}

	wt := o.Watch("edge", ttl.NewGuard())
	if err := wt.Do(ttl.NewContext(context.Background(), 0), ok); !errors.Is(err, ttl.ErrExhausted) {
		t.Fatalf("Guard.Do with 0 hops = %v, want ttl.ErrExhausted", err)
	}
	if st := stateOf(t, o, observe.KindTTL, "edge"); st.Refusals[observe.ReasonHops] != 1 {
		t.Errorf("ttl refusals = %v, want hops: 1", st.Refusals)
	}
}

func TestFailureOfAnotherPolicyIsNotARefusal(t *testing.T) {
	t.Parallel()
	o := observe.New()
	// A breaker's refusal passing through a watched bulkhead is the
	// breaker's, not the bulkhead's.
	wb := o.Watch("db", bulkhead.New(4))
	if err := wb.Do(context.Background(), func(context.Context) error { return breaker.ErrOpen }); !errors.Is(err, breaker.ErrOpen) {
		t.Fatalf("Do = %v, want ErrOpen", err)
	}
	st := stateOf(t, o, observe.KindBulkhead, "db")
	if st.Failures != 1 || len(st.Refusals) != 0 {
		t.Errorf("failures, refusals = %d, %v; want 1, none", st.Failures, st.Refusals)
	}
}

func TestThrottleProbability(t *testing.T) {
	t.Parallel()
	o := observe.New()
	th := loadshed.NewThrottle()
	o.Watch("edge", th)
	st := stateOf(t, o, observe.KindThrottle, "edge")
	if st.Throttle == nil || len(st.Throttle.Probability) != 3 || st.Throttle.Probability["critical"] != th.Probability(loadshed.Critical) {
		t.Errorf("throttle state = %+v, want a probability per priority", st.Throttle)
	}
}

func TestBudgetTokens(t *testing.T) {
	t.Parallel()
	o := observe.New()
	b := retry.NewBudget(retry.WithMaxTokens(7))
	o.WatchBudget("payments", b)
	st := stateOf(t, o, observe.KindBudget, "payments")
	if st.Budget == nil || st.Budget.Tokens != b.Available() || st.Budget.Capacity != 7 {
		t.Errorf("budget state = %+v, want tokens %v, capacity 7", st.Budget, b.Available())
	}
}

func TestLogger(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	o := observe.New(observe.WithLogger(slog.New(slog.NewJSONHandler(&buf, nil))))
	bh := bulkhead.New(1)
	w := o.Watch("db", bh)
	bh.TryAcquire()
	ctx := callguard.ContextWithRequestID(context.Background(), "abc123")
	_ = w.Do(ctx, ok)
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("log output %q: %v", buf.String(), err)
	}
	want := map[string]any{
		"level": "WARN", "msg": "callguard refusal", observe.KeyKind: "bulkhead", observe.KeyName: "db",
		observe.KeyEvent: "refusal", observe.KeyReason: "full", observe.KeyRequestID: "abc123", observe.KeyError: "bulkhead: full",
	}
	for k, v := range want {
		if rec[k] != v {
			t.Errorf("log record[%q] = %v, want %v (record %s)", k, rec[k], v, buf.String())
		}
	}
}

func TestRecentKeepsTheLastEvents(t *testing.T) {
	t.Parallel()
	o := observe.New(observe.WithRecent(2))
	bh := bulkhead.New(1)
	w := o.Watch("db", bh)
	bh.TryAcquire()
	for _, id := range []string{"r1", "r2", "r3"} {
		_ = w.Do(callguard.ContextWithRequestID(context.Background(), id), ok)
	}
	var ids []string
	for _, e := range o.Recent() {
		ids = append(ids, e.RequestID)
	}
	if got := strings.Join(ids, ","); got != "r2,r3" {
		t.Errorf("Recent request ids = %s, want r2,r3", got)
	}
}

func TestPanics(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		fn   func()
		want string
	}{
		{"negative recent", func() { observe.New(observe.WithRecent(-1)) }, "observe: recent events must be >= 0, got -1"},
		{"nil policy", func() { observe.New().Watch("x", nil) }, "observe: Watch with a nil policy"},
		{"empty name", func() { observe.New().Watch("", bulkhead.New(1)) }, "observe: empty policy name for a bulkhead"},
		{"nil budget", func() { observe.New().WatchBudget("x", nil) }, "observe: WatchBudget with a nil budget"},
		{"watched twice", func() {
			o := observe.New()
			o.Watch("db", bulkhead.New(1))
			o.Watch("db", bulkhead.New(1))
		}, `observe: two different policies watched as bulkhead "db"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if got := recover(); got != tt.want {
					t.Errorf("panic = %v, want %q", got, tt.want)
				}
			}()
			tt.fn()
		})
	}
}

// TestConcurrentCallsAndSnapshots hammers a watched policy while reading
// snapshots: every call is counted once.
func TestConcurrentCallsAndSnapshots(t *testing.T) {
	t.Parallel()
	o := observe.New(observe.WithSink(&recorder{}))
	bh := bulkhead.New(2)
	w := o.Watch("db", bh)
	const goroutines, calls = 8, 200
	var wg sync.WaitGroup
	var refused, admitted sync.Map
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var r, a int
			for range calls {
				if err := w.Do(context.Background(), ok); err != nil {
					r++
				} else {
					a++
				}
			}
			refused.Store(g, r)
			admitted.Store(g, a)
		}()
	}
	for range 20 {
		_ = o.Snapshot()
	}
	wg.Wait()
	var nRefused, nAdmitted int
	refused.Range(func(_, v any) bool { nRefused += v.(int); return true })
	admitted.Range(func(_, v any) bool { nAdmitted += v.(int); return true })
	st := stateOf(t, o, observe.KindBulkhead, "db")
	if st.Calls != goroutines*calls || st.Refusals["full"] != uint64(nRefused) {
		t.Errorf("calls %d, refused %d; want %d, %d", st.Calls, st.Refusals["full"], goroutines*calls, nRefused)
	}
	if nAdmitted == 0 {
		t.Errorf("no call admitted")
	}
}

func TestWatchedKeepsRole(t *testing.T) {
	t.Parallel()
	o := observe.New()
	if got := callguard.RoleOf(o.Watch("x", retry.New())); got != callguard.RoleRetry {
		t.Errorf("RoleOf(watched retry) = %v, want %v", got, callguard.RoleRetry)
	}
}

func TestHedge(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	o := observe.New(observe.WithSink(rec))
	h := o.Watch("search", hedge.New(append(o.Hedge("search"), hedge.WithDelay(time.Millisecond))...))
	call := func(ctx context.Context) error {
		if n, _ := hedge.Attempt(ctx); n >= 2 {
			return nil
		}
		<-ctx.Done() // the first attempt waits until the hedge wins, however long it takes
		return ctx.Err()
	}
	if err := h.Do(hedge.ContextSafe(context.Background()), call); err != nil {
		t.Fatalf("Do = %v, want the hedge's nil", err)
	}
	ev := rec.of(observe.EventHedge)
	if len(ev) != 1 || ev[0].Attempt != 2 || ev[0].Name != "search" {
		t.Errorf("hedge events = %+v, want one for attempt 2", ev)
	}
	st := stateOf(t, o, observe.KindHedge, "search")
	if st.Hedge == nil || st.Hedge.Hedges != 1 || st.Hedge.Attempts != 2 || st.Calls != 1 {
		t.Errorf("hedge state = %+v, calls %d; want 1 hedge, 2 attempts, 1 call", st.Hedge, st.Calls)
	}
}
