package observe_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/breaker"
	"github.com/callguard/callguard/observe"
)

// A breaker named "payments", with structured logs on: its transition to
// open and its refusal are logged with the policy's name and the request id.
func Example() {
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{} // no time, so that the output is stable
			}
			return a
		},
	}))
	o := observe.New(observe.WithLogger(logger))
	cb := o.Watch("payments", breaker.New(append(o.Breaker("payments"),
		breaker.WithConsecutiveFailures(1), breaker.WithOpenTimeout(time.Minute))...))
	p := callguard.Chain(cb)

	ctx := callguard.ContextWithRequestID(context.Background(), "req-1")
	_ = p.Do(ctx, func(context.Context) error { return fmt.Errorf("connection refused") })
	_ = p.Do(ctx, func(context.Context) error { return nil })

	st := o.Snapshot().Policies[0]
	fmt.Println(st.Kind, st.Name, st.Breaker.State, st.Refusals)
	// Output:
	// level=WARN msg="callguard transition" policy.kind=breaker policy.name=payments event=transition from=closed to=open
	// level=WARN msg="callguard refusal" policy.kind=breaker policy.name=payments event=refusal reason=open request_id=req-1 error="breaker: circuit open"
	// breaker payments open map[open:1]
}

// A hook of your own beside the Observer's: a breaker's OnStateChange,
// which o.Breaker sets, arrives as a transition event.
func ExampleEventFunc() {
	o := observe.New(observe.WithSink(observe.EventFunc(func(_ context.Context, e observe.Event) {
		if e.Type == observe.EventTransition {
			fmt.Printf("%s %s: %s -> %s\n", e.Kind, e.Name, e.From, e.To)
		}
	})))
	cb := breaker.New(append(o.Breaker("payments"), breaker.WithConsecutiveFailures(1))...)
	_ = cb.Do(context.Background(), func(context.Context) error { return fmt.Errorf("connection refused") })
	// Output: breaker payments: closed -> open
}
