package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// printTable writes one row per result.
func printTable(w io.Writer, results []*result, tl timeline) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tsetup\tgoodput\tcheckout ok\tbrowse ok\tp50\tp99\tcalls to failed svc/req\t(counted)\trefused at edge\tlimiter/throttle/breaker/bulkhead/route\trecovery\t")
	for _, r := range results {
		perSec, _ := r.goodput()
		_, okC := r.routeOK(checkout)
		_, okB := r.routeOK(browse)
		calls, _ := r.perRequest()
		name := r.sc.id + " " + r.sc.name
		if r.sc.outage {
			name += fmt.Sprintf(" %v", tl.outage)
		}
		fmt.Fprintf(tw, "%s\t%s\t%.0f/s\t%.1f%%\t%.1f%%\t%s\t%s\t%.2f\t%s\t%.1f%%\t%d/%d/%d/%d/%d\t%s\t\n",
			name, r.setupName(), perSec, 100*okC, 100*okB, ms(r.latency(0.5)), ms(r.latency(0.99)),
			calls, r.sc.counted, 100*r.refusedAtEdge(),
			r.c[refShed], r.c[refThrottled], r.c[refOpen], r.c[refFull], r.c[refRoute], r.recoveryText())
	}
	tw.Flush()
	fmt.Fprintf(w, `
goodput, p50, p99: edge requests of both routes started while the fault lasted (a: %v, others: %v):
  ok answers per second, and the latency of every answer, ok or not. checkout ok, browse ok: the share
  of each route's requests answered 200 within the edge's deadline.
calls to failed svc/req: per edge request on the route that needs it: attempts sent to payments (a, b)
  or catalog (c) while their caller still waited, checkout requests reaching api (d: 1 is no loop),
  payments requests that started and were cut off by their caller before their work was done (e).
refused at edge: edge requests the edge answered without calling api, and how many each policy refused:
  the edge's own limiter (stack.Server), its throttle, breaker or bulkhead for api (stack.Client), its
  route table (+ routes: httpx.NewRouteTransport at the edge and api, httpx.WithDependency at orders).
recovery: from the end of the fault until the route's requests succeed again (%d buckets of %v in a row
  with ≥ %.0f%% ok), watched for at most %v.
`, tl.outage, tl.fault, recoveredRun, bucket, 100*recoveredShare, tl.maxRecover)
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
}

// checkBounds returns the generous bounds that callguard's rows miss: the
// ones cascade_test.go asserts, and two of goodput.
func checkBounds(results []*result) []error {
	var errs []error
	for _, r := range results {
		if r.setup == without {
			continue
		}
		errs = append(errs, r.check()...)
	}
	return errs
}

// check returns the bounds this callguard result misses.
func (r *result) check() []error {
	var errs []error
	fail := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s (%s): "+format, append([]any{r.sc.id, r.sc.name}, args...)...))
	}
	_, warm := r.perRequest()
	switch r.sc.id {
	case "a":
		if warm > 0.1 {
			fail("%.3f payments attempts per checkout after warm-up, want ≤ 0.1", warm)
		}
		if n := r.cWarm[refRoute]; r.setup == withRoutes && float64(n) < 0.5*float64(r.routeNWarm) {
			fail("the edge's route table refused %d of %d checkouts after warm-up, want ≥ half", n, r.routeNWarm)
		}
	case "c":
		if g, _ := r.routeOK(browse); g < catalogCapacity/2 {
			fail("browse goodput %.0f/s, want ≥ %.0f/s (half of catalog's capacity)", g, catalogCapacity/2)
		}
	case "d":
		if n := r.c[apiArrivals]; float64(n) > 2.5*float64(r.routeN) {
			fail("%d checkout requests reached api for %d edge checkouts, want ≤ 2.5 each (first visit and refused revisit)", n, r.routeN)
		}
		if n := r.c[loopRefused]; float64(n) < 0.9*float64(r.routeN) {
			fail("api refused %d loops for %d edge checkouts, want ≥ 0.9 each", n, r.routeN)
		}
	case "e":
		if n := r.c[payShort]; float64(n) > 0.01*float64(r.routeN) {
			fail("%d payments requests started with less time left than their work, for %d checkouts, want ≤ 1%%", n, r.routeN)
		}
		if r.c[payTimeRefused] == 0 {
			fail("payments refused no request for want of time")
		}
	}
	return errs
}
