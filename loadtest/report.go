package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/callguard/callguard/loadshed"
)

// priorities indexes counters by priority.
var priorities = [...]loadshed.Priority{loadshed.Critical, loadshed.Default, loadshed.Sheddable}

func prioIndex(p loadshed.Priority) int { return slices.Index(priorities[:], p) }

// A result is what the clients saw in one phase.
type result struct {
	phase
	offered, ok, shed [3]int // by index in priorities, of the requests due after warmup
	refused           [3]int // by index in priorities
	timeouts, errs    int
	firstErr          string          // one of the errors, to name them
	latencies, lags   []time.Duration // of the successes; of every request
	good              int             // successes that ended between warmup and the phase's end
	sent              float64         // requests that reached the server per request, retries included
	limit             int             // the server's limit at the end, 0 without limiter
}

func newResult(ph phase, outcomes []outcome) *result {
	r := &result{phase: ph}
	end := ph.warmup + ph.measure
	for _, o := range outcomes {
		if o.kind == kindOK && o.done >= ph.warmup && o.done < end {
			r.good++
		}
		if o.due >= ph.warmup {
			r.add(o)
		}
	}
	return r
}

func (r *result) add(o outcome) {
	i := prioIndex(o.p)
	r.offered[i]++
	r.lags = append(r.lags, o.lag)
	switch o.kind {
	case kindOK:
		r.ok[i]++
		r.latencies = append(r.latencies, o.latency)
	case kindShed:
		r.shed[i]++
	case kindRefused:
		r.refused[i]++
	case kindTimeout:
		r.timeouts++
	default:
		r.errs++
		if r.firstErr == "" {
			r.firstErr = fmt.Sprintf("status %d", o.status)
			if o.err != nil {
				r.firstErr = o.err.Error()
			}
		}
	}
}

// goodput returns the successes per second that ended in the measured
// window, whenever they started.
func (r *result) goodput() float64 { return float64(r.good) / r.measure.Seconds() }

// success returns the share of p's requests that succeeded.
func (r *result) success(p loadshed.Priority) float64 {
	i := prioIndex(p)
	return float64(r.ok[i]) / float64(max(r.offered[i], 1))
}

func (r *result) p(q float64) time.Duration { return quantile(r.latencies, q) }

// quantile returns the q-quantile of ds, or 0 for none.
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(int(q*float64(len(s))), len(s)-1)]
}

func ms(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
}

const header = "setup\tload\toffered rps\tgoodput rps\tof capacity\tp50\tp99\t" +
	"shed crit\tshed def\tshed shd\trefused crit\tdef\tshd\ttimeouts\terrors\tcrit ok\tsent/req\tlimit\tlag p99\t"

// printTable writes one row per result.
func printTable(w io.Writer, rs []*result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, header)
	for _, r := range rs {
		crit, limit := "-", "-"
		if r.mixed {
			crit = fmt.Sprintf("%.1f%%", 100*r.success(loadshed.Critical))
		}
		if r.limiter {
			limit = fmt.Sprint(r.limit)
		}
		fmt.Fprintf(tw, "%s\t%g×\t%.0f\t%.0f\t%.1f%%\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%.2f\t%s\t%s\t\n",
			r.id, r.factor, r.rate(), r.goodput(), 100*r.goodput()/capacity, ms(r.p(0.5)), ms(r.p(0.99)),
			r.shed[0], r.shed[1], r.shed[2], r.refused[0], r.refused[1], r.refused[2], r.timeouts, r.errs, crit, r.sent, limit, ms(quantile(r.lags, 0.99)))
	}
	tw.Flush()
	for _, r := range rs {
		if r.errs > 0 {
			fmt.Fprintf(w, "%s at %g×: %d errors, for example: %s\n", r.id, r.factor, r.errs, r.firstErr)
		}
	}
}

// printRatios writes, for each setup with a limiter, the p99 of successes
// at 2× over the p99 at 0.5×.
func printRatios(w io.Writer, rs []*result) {
	for _, s := range setups {
		half, double := find(rs, s.id, 0.5), find(rs, s.id, 2)
		if !s.limiter || half == nil || double == nil || half.p(0.99) == 0 {
			continue
		}
		fmt.Fprintf(w, "%s: p99 at 2× / p99 at 0.5× = %s / %s = %.2f\n", s.id,
			ms(double.p(0.99)), ms(half.p(0.99)), float64(double.p(0.99))/float64(half.p(0.99)))
	}
}

func find(rs []*result, id string, factor float64) *result {
	for _, r := range rs {
		if r.id == id && r.factor == factor {
			return r
		}
	}
	return nil
}

// legend explains the table; it is printed under it.
func legend(ph phase) string {
	var b strings.Builder
	fmt.Fprintf(&b, "capacity %.0f rps (%d workers × %v); open loop, each phase %v of which the last %v count; "+
		"each client gives up after %v.\n", capacity, workers, work, ph.warmup+ph.measure, ph.measure, deadline)
	for _, s := range setups {
		fmt.Fprintf(&b, "  %s  %s\n", s.id, s.name)
	}
	b.WriteString(`goodput: successes within the deadline that ended in the counted window, per second;
p50, p99: latencies of the successes; shed: 503s from the server, by the request's priority;
refused: refused by the client's own policy (throttle, open breaker, full bulkhead), never sent,
by priority;
timeouts: no answer within the deadline; crit ok: critical requests that succeeded;
sent/req: requests that reached the server per request offered (retries raise it, the throttle
lowers it); limit: the server limiter's at the end; lag p99: how late the generator started requests.
`)
	return b.String()
}
