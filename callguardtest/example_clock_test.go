package callguardtest_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/callguard/callguard/callguardtest"
	"github.com/callguard/callguard/timeout"
)

// A fake clock drives a timeout without sleeping: the test advances the
// clock once the call waits.
func ExampleClock() {
	clk := callguardtest.NewClock()
	to := timeout.New(300*time.Millisecond, timeout.WithClock(clk))
	errc := make(chan error, 1)
	go func() {
		errc <- to.Do(context.Background(), func(ctx context.Context) error {
			<-ctx.Done() // a slow dependency
			return ctx.Err()
		})
	}()
	clk.BlockUntil(1) // the timeout's timer is set
	clk.Advance(300 * time.Millisecond)
	err := <-errc
	fmt.Println(errors.Is(err, timeout.ErrTimeout), clk.Now().Sub(callguardtest.Start))
	// Output: true 300ms
}
