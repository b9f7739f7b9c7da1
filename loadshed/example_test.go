package loadshed_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/time/rate"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/loadshed"
)

func Example() {
	lim := loadshed.New(loadshed.WithFixedLimit(1)) // one call at a time, for the example
	ctx := context.Background()

	err := lim.Do(ctx, func(ctx context.Context) error {
		// While this call holds the only slot, another is shed at once.
		err := lim.Do(ctx, func(context.Context) error { return nil })
		delay, overloaded := callguard.Pushback(err)
		fmt.Println("second call:", err, errors.Is(err, loadshed.ErrShed), overloaded, delay)
		return nil
	})
	fmt.Println("first call:", err, "shed:", lim.Shed(loadshed.Default))
	// Output:
	// second call: loadshed: shed true true 0s
	// first call: <nil> shed: 1
}

// An adapter admits a request with Acquire and releases its token when the
// response is written, with the outcome of the work.
func ExampleLimiter_Acquire() {
	lim := loadshed.New()
	serve := func(ctx context.Context, work func(context.Context) error) int {
		tok, err := lim.Acquire(ctx)
		if err != nil {
			return 503 // with "Callguard-Pushback: -1"
		}
		err = work(ctx)
		tok.Release(loadshed.OutcomeOf(err))
		if err != nil {
			return 500
		}
		return 200
	}
	fmt.Println(serve(context.Background(), func(context.Context) error { return nil }))
	fmt.Println("in flight:", lim.InFlight(), "limit:", lim.Limit())
	// Output:
	// 200
	// in flight: 0 limit: 20
}

// Priorities come from the wire through the context.
func ExampleParsePriority() {
	header := " Critical " // the Callguard-Priority value of a trusted caller
	ctx := context.Background()
	if p, ok := loadshed.ParsePriority(header); ok {
		ctx = loadshed.NewContext(ctx, p)
	}
	fmt.Println(loadshed.FromContext(ctx))

	// Sheddable requests may fill half of the limit, critical ones all of it.
	lim := loadshed.New(loadshed.WithFixedLimit(4))
	for _, p := range []loadshed.Priority{loadshed.Sheddable, loadshed.Critical} {
		ctx := loadshed.NewContext(context.Background(), p)
		admitted := 0
		for range 10 {
			if _, err := lim.Acquire(ctx); err == nil {
				admitted++
			}
		}
		fmt.Println(p, "admitted:", admitted, "in flight:", lim.InFlight())
	}
	// Output:
	// critical
	// sheddable admitted: 2 in flight: 2
	// critical admitted: 2 in flight: 4
}

func ExampleWithPushback() {
	lim := loadshed.New(loadshed.WithFixedLimit(1), loadshed.WithPushback(250*time.Millisecond))
	tok, _ := lim.Acquire(context.Background())
	defer tok.Release(loadshed.Success)

	err := lim.Do(context.Background(), func(context.Context) error { return nil })
	delay, _ := callguard.Pushback(err)
	fmt.Println(err)
	fmt.Println("retry after:", delay)
	// Output:
	// loadshed: shed default request (limit, 1 in flight, limit 1), retry after 250ms
	// retry after: 250ms
}

func ExampleThrottle() {
	th := loadshed.NewThrottle() // one per backend
	// The backend accepted half of 100 requests: with K = 2, no throttling.
	for i := range 100 {
		if th.Allow(loadshed.Default) {
			th.Done(loadshed.Default, i%2 == 0)
		}
	}
	fmt.Printf("%.3f\n", th.Probability(loadshed.Default))
	// One more refusal: requests − 2·accepts = 1, so 1 in 102 is rejected.
	if th.Allow(loadshed.Default) {
		th.Done(loadshed.Default, false)
	}
	fmt.Printf("%.3f\n", th.Probability(loadshed.Default))
	// Output:
	// 0.000
	// 0.010
}

func ExampleNewRateLimit() {
	rl := loadshed.NewRateLimit(rate.Every(time.Second), 1) // 1 per second
	ctx := context.Background()
	call := func(context.Context) error { return nil }

	fmt.Println(rl.Do(ctx, call))
	err := rl.Do(ctx, call)
	delay, _ := callguard.Pushback(err)
	fmt.Println(errors.Is(err, loadshed.ErrRateLimited), "retry after", delay.Round(100*time.Millisecond))
	// Output:
	// <nil>
	// true retry after 1s
}
