package loadshed_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/loadshed"
)

// A retry ranks below the first attempts of its priority: with 10 slots, 9
// are open to retries and the last is kept for a first attempt.
func ExampleWithRetryShare() {
	lim := loadshed.New(loadshed.WithFixedLimit(10), loadshed.WithShare(loadshed.Default, 1))
	retry := callguard.ContextWithInboundAttempt(context.Background(), 2) // Callguard-Attempt: 2
	var toks []loadshed.Token
	for {
		tok, err := lim.Acquire(retry)
		if errors.Is(err, loadshed.ErrShed) {
			break
		}
		toks = append(toks, tok)
	}
	first, err := lim.Acquire(context.Background()) // a first attempt
	toks = append(toks, first)
	fmt.Println("retries admitted:", len(toks)-1)
	fmt.Println("first attempt refused:", err != nil)
	fmt.Println("retries shed:", lim.ShedRetries())
	for _, tok := range toks {
		tok.Release(loadshed.Success)
	}
	// Output:
	// retries admitted: 9
	// first attempt refused: false
	// retries shed: 1
}
