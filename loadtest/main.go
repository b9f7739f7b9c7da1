// Command loadtest measures callguard under overload, as a whole system:
// real HTTP clients and a real server of fixed capacity on 127.0.0.1.
//
//	cd loadtest && go run .                 # the table, about 45s
//	go run . -runs 10 -setups b,c           # and the 4× phase 10 more times: no collapse?
//	go run . -check                         # exit 1 if the recommended stack misses generous bounds (CI)
//
// The server is a pool of 4 workers, 5ms of work per request: 800 requests
// a second. A request waits in line for a worker; a worker stops working
// for a client that went away. The load is open loop: requests start on a
// fixed schedule whatever the server does, at 0.5×, 2× and 4× of capacity,
// for -warmup (not counted) and -duration; each client gives up after
// 100ms. Every phase gets a fresh server and fresh clients, and ends by
// itself when its last request has.
//
// Setups, one row per setup and load:
//
//	a  plain http.Client; the bare pool, no limiter
//	b  plain http.Client; the pool behind httpx.Handler with the README's
//	   server stack, Chain(ttl.New, loadshed.New(), timeout.New(2s))
//	c  the README's recommended client stack (recommendedClient: throttle,
//	   retry with a budget, breaker, bulkhead 64, 300ms per attempt)
//	   through httpx.NewTransport, against server b
//	d  c with half the requests critical and half sheddable, the priority
//	   set in the request's context (loadshed.NewContext)
//	e  b with the same 50/50 mix, the priority in the Callguard-Priority
//	   header: what d would get without the client stack
//
// Reading the table: goodput is what counts, successes within the deadline
// per second; at 2× and 4× the ideal is the capacity (100%), at 0.5× it is
// the offered load (50%). Without a limiter (a) requests wait in line until
// their clients nearly give up, so goodput collapses though the workers
// never rest. With it the excess is shed at once (503, "don't retry"), by
// priority in d and e, and p50/p99 stay near the no-load latency: the
// ratios under the table compare the p99 at 2× with the p99 at 0.5×.
// "refused" counts requests the client's own policy never sent; "sent/req"
// shows retries (above 1) and throttling (below 1); "lag p99" shows how far
// a busy machine made the generator fall behind its schedule.
//
// -check exits with status 1, naming the row and the figure, when c at 2×
// keeps less than 80% of capacity as goodput, or d at 2× gets less than 95%
// of its critical requests through. The bounds are generous on purpose: CI
// runs this once, on a busy 2-core machine; the figures are the measurement.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

type config struct {
	measure, warmup time.Duration
	runs            int
	check           bool
	setups          []setup
	loads           []float64
}

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(2)
	}
	watchdog(cfg)
	if !run(os.Stdout, cfg) {
		os.Exit(1)
	}
}

func parseFlags(args []string) (config, error) {
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	cfg := config{}
	fs.DurationVar(&cfg.measure, "duration", 2*time.Second, "counted time of each phase")
	fs.DurationVar(&cfg.warmup, "warmup", 500*time.Millisecond, "time before each phase's count starts")
	fs.IntVar(&cfg.runs, "runs", 0, "run the 4× phase of each setup this many more times and print the min goodput")
	fs.BoolVar(&cfg.check, "check", false, "exit 1 if the recommended client stack misses the bounds")
	ids := fs.String("setups", "a,b,c,d,e", "setups to run, by letter")
	loads := fs.String("loads", "0.5,2,4", "loads to offer, in multiples of capacity")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if cfg.measure <= 0 || cfg.warmup < 0 || cfg.runs < 0 {
		return cfg, fmt.Errorf("-duration must be > 0, -warmup and -runs >= 0")
	}
	for id := range strings.SplitSeq(*ids, ",") {
		i := slices.IndexFunc(setups, func(s setup) bool { return s.id == strings.TrimSpace(id) })
		if i < 0 {
			return cfg, fmt.Errorf("no setup %q", id)
		}
		cfg.setups = append(cfg.setups, setups[i])
	}
	for l := range strings.SplitSeq(*loads, ",") {
		f, err := strconv.ParseFloat(strings.TrimSpace(l), 64)
		if err != nil || f <= 0 || f > 10 {
			return cfg, fmt.Errorf("bad load %q: want a number in (0, 10]", l)
		}
		cfg.loads = append(cfg.loads, f)
	}
	return cfg, nil
}

// watchdog ends the program if it runs far longer than its phases should:
// a harness in CI must stop by itself.
func watchdog(cfg config) {
	phases := len(cfg.setups) * (len(cfg.loads) + cfg.runs)
	limit := time.Duration(phases)*(cfg.warmup+cfg.measure+5*time.Second) + 30*time.Second
	time.AfterFunc(limit, func() {
		fmt.Fprintf(os.Stderr, "loadtest: still running after %v: stopped\n", limit)
		os.Exit(2)
	})
}

// run runs every phase of cfg, prints the table and the checks, and
// reports whether the checks passed.
func run(w io.Writer, cfg config) bool {
	var rs []*result
	for _, s := range cfg.setups {
		for _, f := range cfg.loads {
			rs = append(rs, phase{setup: s, factor: f, warmup: cfg.warmup, measure: cfg.measure}.run())
		}
	}
	printTable(w, rs)
	fmt.Fprintln(w)
	printRatios(w, rs)
	fmt.Fprintln(w)
	fmt.Fprint(w, legend(phase{warmup: cfg.warmup, measure: cfg.measure}))
	if cfg.runs > 0 {
		fmt.Fprintln(w)
		repeat(w, cfg)
	}
	if !cfg.check {
		return true
	}
	fmt.Fprintln(w)
	return check(w, rs)
}

// repeat runs the 4× phase of each setup cfg.runs times and prints every
// goodput and the least.
func repeat(w io.Writer, cfg config) {
	fmt.Fprintf(w, "4× phase, %d runs each: goodput in %% of capacity\n", cfg.runs)
	for _, s := range cfg.setups {
		least := 100.0
		fmt.Fprintf(w, "  %s:", s.id)
		for range cfg.runs {
			r := phase{setup: s, factor: 4, warmup: cfg.warmup, measure: cfg.measure}.run()
			g := 100 * r.goodput() / capacity
			least = min(least, g)
			fmt.Fprintf(w, " %.1f", g)
		}
		fmt.Fprintf(w, "  (min %.1f%%)\n", least)
	}
}
