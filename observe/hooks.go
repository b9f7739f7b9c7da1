package observe

import (
	"context"
	"strconv"
	"time"

	"github.com/callguard/callguard/breaker"
	"github.com/callguard/callguard/hedge"
	"github.com/callguard/callguard/loadshed"
	"github.com/callguard/callguard/retry"
)

// Breaker returns the options that name a breaker and report its changes
// of state: breaker.New(o.Breaker("payments")...). They set
// [breaker.WithName] and [breaker.OnStateChange]; an OnStateChange given
// after them replaces the Observer's hook. To keep a hook of your own, give
// it to the Observer as an [EventFunc] sink: it receives every transition.
// Pass the breaker to [Observer.Watch] too, for its refusals and state.
func (o *Observer) Breaker(name string) []breaker.Option {
	inst := o.instance(KindBreaker, name)
	return []breaker.Option{
		breaker.WithName(name),
		breaker.OnStateChange(func(_ string, from, to breaker.State) {
			// Runs under the breaker's lock: no call back into the breaker.
			inst.mu.Lock()
			inst.transitions++
			inst.state = to.String()
			inst.since = o.now()
			inst.mu.Unlock()
			o.emit(context.Background(), inst, Event{Type: EventTransition, From: from.String(), To: to.String()})
		}),
	}
}

// Retry returns the option that reports a retry policy's retries:
// retry.New(append(opts, o.Retry("payments")...)...). It sets
// [retry.OnRetry]; one given after it replaces the Observer's hook. Pass
// the policy to [Observer.Watch] too, for its attempts and give-ups.
func (o *Observer) Retry(name string) []retry.Option {
	inst := o.instance(KindRetry, name)
	return []retry.Option{
		retry.OnRetry(func(ctx context.Context, attempt int, err error, delay time.Duration) {
			inst.mu.Lock()
			inst.retries++
			inst.mu.Unlock()
			o.emit(ctx, inst, Event{Type: EventRetry, Attempt: attempt, Delay: delay, Err: err})
		}),
	}
}

// Hedge returns the option that reports a hedging policy's hedges:
// hedge.New(append(opts, o.Hedge("search")...)...). It sets
// [hedge.OnHedge]. Pass the policy to [Observer.Watch] too, for its
// attempts and state.
func (o *Observer) Hedge(name string) []hedge.Option {
	inst := o.instance(KindHedge, name)
	return []hedge.Option{
		hedge.OnHedge(func(ctx context.Context, attempt int) {
			inst.mu.Lock()
			inst.hedges++
			inst.mu.Unlock()
			o.emit(ctx, inst, Event{Type: EventHedge, Attempt: attempt})
		}),
	}
}

// Limiter returns the option that reports an adaptive limiter's changes of
// limit: loadshed.New(o.Limiter("api")...). It sets
// [loadshed.OnLimitChange]. Pass the limiter to [Observer.Watch] too, for
// its refusals by priority and its state.
func (o *Observer) Limiter(name string) []loadshed.Option {
	inst := o.instance(KindLimiter, name)
	return []loadshed.Option{
		loadshed.OnLimitChange(func(old, new int) {
			o.emit(context.Background(), inst, Event{Type: EventLimit, From: strconv.Itoa(old), To: strconv.Itoa(new)})
		}),
	}
}

// WatchBudget names a retry budget, so that snapshots and metrics report
// its tokens. It panics if another budget was watched under the same name.
func (o *Observer) WatchBudget(name string, b *retry.Budget) {
	if b == nil {
		panic("observe: WatchBudget with a nil budget")
	}
	o.instance(KindBudget, name).watch(b)
}
