// Command overload offers a real HTTP server on 127.0.0.1 twice the load it
// can serve, without and with loadshed, and prints what the clients got.
//
// The server has a fixed capacity: 4 workers, 5ms of work per request, so
// 800 requests a second; a request waits in line for a worker. The clients
// are open-loop: they start 1600 requests a second on a fixed schedule,
// whatever the server does, and each gives up after 100ms. Half the
// requests are critical and half sheddable (the Callguard-Priority header);
// a third run marks none. Each run takes 2.5s, of which the first 0.5s is
// not counted; the whole program about 8s. The load harness (cd loadtest &&
// go run .) measures more setups, the README's client stack among them, at
// 0.5×, 2× and 4×.
//
//	go run ./examples/overload
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/callguard/callguard/httpx"
	"github.com/callguard/callguard/loadshed"
)

const (
	workers  = 4
	work     = 5 * time.Millisecond
	capacity = workers * float64(time.Second) / float64(work) // requests per second
	factor   = 2                                              // offered load, in multiples of capacity
	deadline = 100 * time.Millisecond                         // the clients'
	duration = 2500 * time.Millisecond
	warmup   = 500 * time.Millisecond // not counted: the limiter finds its limit
)

// pool is the service: a request waits, in arrival order, for one of the
// workers, and keeps it for work, or until its client goes away. A worker
// keeps its own schedule, as a CPU-bound one would: a request that waited
// starts when the previous one ended, not when its goroutine wakes up, so
// the capacity is exact on a busy machine too.
type pool struct{ free chan *worker }

type worker struct{ freeAt time.Time }

func newPool() *pool {
	p := &pool{free: make(chan *worker, workers)}
	for range workers {
		p.free <- &worker{}
	}
	return p
}

func (p *pool) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx, queued := r.Context(), time.Now()
	var wk *worker
	select {
	case wk = <-p.free:
	case <-ctx.Done():
		return
	}
	end := queued
	if wk.freeAt.After(end) {
		end = wk.freeAt
	}
	end = end.Add(work)
	t := time.NewTimer(time.Until(end))
	select {
	case <-t.C:
		wk.freeAt = end
	case <-ctx.Done(): // the client gave up: stop working for it
		wk.freeAt = time.Now()
	}
	t.Stop()
	p.free <- wk
	if ctx.Err() == nil {
		io.WriteString(w, "ok")
	}
}

// priorities indexes counters by priority.
var priorities = [...]loadshed.Priority{loadshed.Critical, loadshed.Default, loadshed.Sheddable}

// result is what the clients saw of the requests started after warmup.
type result struct {
	offered, ok, shed [3]int // by index in priorities
	timeouts, errs    int
	good              int // successes that ended before the run did
	latencies         []time.Duration
}

func idx(p loadshed.Priority) int { return slices.Index(priorities[:], p) }

func main() {
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "arm\toffered rps\tgoodput rps\tp50\tp99\tshed critical\tshed default\tshed sheddable\ttimeouts\tcritical ok\t")
	errs := 0
	row := func(name string, lim *loadshed.Limiter, mixed bool) {
		r := run(lim, mixed)
		errs += r.errs
		shed := func(p loadshed.Priority) string {
			if lim == nil {
				return "-"
			}
			return fmt.Sprint(r.shed[idx(p)])
		}
		crit := "-"
		if mixed {
			crit = fmt.Sprintf("%.1f%%", 100*float64(r.ok[0])/float64(max(r.offered[0], 1)))
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%v\t%v\t%s\t%s\t%s\t%d\t%s\t\n", name,
			factor*capacity, float64(r.good)/(duration-warmup).Seconds(),
			percentile(r.latencies, 0.50), percentile(r.latencies, 0.99),
			shed(loadshed.Critical), shed(loadshed.Default), shed(loadshed.Sheddable), r.timeouts, crit)
	}
	row("without loadshed", nil, true)
	row("loadshed, 50/50", loadshed.New(), true)
	row("loadshed, all default", loadshed.New(), false)
	tw.Flush()
	if errs > 0 {
		fmt.Printf("(%d requests failed otherwise: not counted above)\n", errs)
	}

	fmt.Printf(`
capacity %.0f rps (%d workers × %v); offered %.0f rps, open loop, for %v, of which the last %v count;
          each client gives up after %v.
goodput   successes within the deadline per second; p50 and p99 are their latencies.
without   every request waits in line; by the time a worker is free its client has nearly given up, so
          almost all the work is wasted and goodput collapses, though the workers never rest.
loadshed  the limiter keeps the line short and answers the excess at once with 503 and
          "Callguard-Pushback: -1" (don't retry): the server stays at its capacity, with low latency.
50/50     half critical, half sheddable: the sheddable half is refused first, and the critical half, which
          alone is the whole capacity, nearly all succeeds.
default   no priority: the limiter refuses any request that finds the limit reached.
`, capacity, workers, work, factor*capacity, duration, duration-warmup, deadline)
}

// run offers the load to a fresh server, behind httpx.Handler with lim
// unless lim is nil, and returns what the clients saw.
func run(lim *loadshed.Limiter, mixed bool) *result {
	var h http.Handler = newPool()
	if lim != nil {
		h = httpx.Handler(h, lim)
	}
	ts := httptest.NewServer(h)
	defer ts.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: 1024}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}

	interval := time.Duration(float64(time.Second) / (factor * capacity))
	n := int(duration / interval)
	outcomes := make([]outcome, n)
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	start := time.Now()
	for i := 0; i < n; <-tick.C {
		for ; i < n && time.Since(start) >= time.Duration(i)*interval; i++ { // catch up with the schedule
			k, p := i, loadshed.Default
			if mixed {
				p = [2]loadshed.Priority{loadshed.Critical, loadshed.Sheddable}[k%2]
			}
			wg.Go(func() { outcomes[k] = call(client, ts.URL, p, start) })
		}
	}
	wg.Wait()

	r := &result{}
	for _, o := range outcomes[int(warmup/interval):] {
		r.add(o)
	}
	return r
}

type outcome struct {
	p             loadshed.Priority
	status        int // 0: no response
	timeout       bool
	latency, done time.Duration // done: since the run started
}

// call sends one request with the client's deadline.
func call(client *http.Client, url string, p loadshed.Priority, start time.Time) outcome {
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	o := outcome{p: p}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return o
	}
	if p != loadshed.Default {
		req.Header.Set(loadshed.PriorityHeader, p.String())
	}
	begin := time.Now()
	resp, err := client.Do(req)
	if err == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	o.latency, o.done = time.Since(begin), time.Since(start)
	o.timeout = errors.Is(err, context.DeadlineExceeded) || o.latency > deadline
	if err == nil && !o.timeout {
		o.status = resp.StatusCode
	}
	return o
}

func (r *result) add(o outcome) {
	i := idx(o.p)
	r.offered[i]++
	switch {
	case o.timeout:
		r.timeouts++
	case o.status == http.StatusOK:
		r.ok[i]++
		r.latencies = append(r.latencies, o.latency)
		if o.done < duration {
			r.good++
		}
	case o.status == http.StatusServiceUnavailable:
		r.shed[i]++
	default:
		r.errs++
	}
}

// percentile returns the q-quantile of ds, rounded for the table, or "-".
func percentile(ds []time.Duration, q float64) string {
	if len(ds) == 0 {
		return "-"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(int(q*float64(len(s))), len(s)-1)].Round(100 * time.Microsecond).String()
}
