// Command cascade runs a small system on 127.0.0.1 through a fault script,
// once without callguard and once with it, and prints one table.
//
// The system is edge → api → {orders → payments, catalog}: users ask the
// edge for /checkout (api → orders → payments) or /browse (api → catalog).
// Every hop is HTTP except api → catalog, which is gRPC. Each service does a
// little work before its call below; payments and catalog have a fixed
// capacity (workers × work per request), as in the load harness (loadtest/).
//
// Without callguard, every client is a plain http.Client (no timeout) or a
// plain gRPC client, and every call is a hand-written loop of 3 attempts 10
// ms apart on an error or a 5xx; handlers pass their request's context on;
// the edge gives each request 1 s (context.WithTimeout). With callguard,
// every server runs under stack.Server (the edge with httpx.Edge and
// httpx.WithMaxDeadline), every client under stack.Client, one per backend,
// through httpx.NewTransport or grpcx.DialOptions, and handlers answer a
// failed call with httpx.Error. The business code is the same in both.
// Scenario a has a third row, "+ routes": route availability on the
// checkout path (httpx.WithDependency at orders, httpx.NewRouteTransport at
// api and at the edge; api re-announces a route its table refused).
// The setups of a scenario run at the same time, each on its own system.
//
// The faults: (a) payments down (its listener closed) for -duration;
// (b) payments 10× slower; (c) catalog offered 3× its capacity; (d) a
// configuration mistake points orders' payments URL at api, a loop;
// (e) a 100 ms edge deadline while every 5th orders request takes 60 ms
// more (the tail) and payments needs 40 ms. Users send 50 checkouts and 50
// browses a second (10 checkouts in d) and wait 1 s more than the edge's
// deadline.
//
//	go run ./examples/cascade                 # under a minute
//	go run ./examples/cascade -short -check   # about 25 s; exit 1 if a bound fails
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"
)

func main() {
	duration := flag.Duration("duration", 10*time.Second, "how long payments stays down in scenario a; the other faults last a fifth of it, from 1.5 s to 3 s")
	short := flag.Bool("short", false, "shorter script: -duration 3s, and recovery watched for at most 5 s")
	check := flag.Bool("check", false, "exit 1 if callguard's figures miss the generous bounds the test asserts")
	maxRecover := flag.Duration("recover", 0, "how long to watch for recovery after a fault (default 20s, with -short 5s)")
	only := flag.String("run", "abcde", "the scenarios to run, by letter")
	flag.Parse()

	tl := timeline{warm: 500 * time.Millisecond, outage: *duration, skip: time.Second, maxRecover: 20 * time.Second}
	if *short {
		tl.outage, tl.maxRecover = 3*time.Second, 5*time.Second
	}
	if *maxRecover > 0 {
		tl.maxRecover = *maxRecover
	}
	if tl.outage < time.Second {
		fmt.Fprintln(os.Stderr, "cascade: -duration must be at least 1s")
		os.Exit(2)
	}
	tl.fault = min(max(tl.outage/5, 1500*time.Millisecond), 3*time.Second)

	start := time.Now()
	var results []*result
	for _, sc := range scenarios {
		if !strings.Contains(*only, sc.id) {
			continue
		}
		rs, err := sc.runAll(tl)
		if err != nil {
			fmt.Fprintf(os.Stderr, "cascade: %s: %v\n", sc.id, err)
			os.Exit(1)
		}
		results = append(results, rs...)
	}
	printTable(os.Stdout, results, tl)
	fmt.Printf("\n(%v in all)\n", time.Since(start).Round(100*time.Millisecond))
	if *check {
		if errs := checkBounds(results); len(errs) > 0 {
			for _, e := range errs {
				fmt.Fprintln(os.Stderr, "cascade: check:", e)
			}
			os.Exit(1)
		}
		fmt.Println("check: every bound held")
	}
}
