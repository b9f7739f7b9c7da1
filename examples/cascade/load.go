package main

import (
	"context"
	"io"
	"math"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// The two routes users take: checkout needs orders and payments, browse
// needs catalog.
const (
	checkout = iota
	browse
	nRoutes
)

var routePaths = [nRoutes]string{"/checkout", "/browse"}

// An outcome is one user request to the edge.
type outcome struct {
	route   int
	start   time.Duration // since the load began
	latency time.Duration
	ok      bool
	done    bool
}

// A load offers requests to the edge open loop, each route at its own
// rate, until stopped; every request runs in its own goroutine with the
// user's patience as its deadline.
type load struct {
	url      string
	patience time.Duration
	client   *http.Client
	tr       *http.Transport
	begin    time.Time
	rates    [nRoutes]atomic.Uint64 // float64 bits, requests per second
	stop     chan struct{}
	ticker   sync.WaitGroup
	requests sync.WaitGroup

	mu       sync.Mutex
	outcomes []*outcome
}

func startLoad(url string, patience time.Duration, rates [nRoutes]float64) *load {
	ld := &load{url: url, patience: patience, tr: newTransport(), stop: make(chan struct{}), begin: time.Now()}
	ld.client = &http.Client{Transport: ld.tr}
	for r, v := range rates {
		ld.setRate(r, v)
	}
	ld.ticker.Go(ld.run)
	return ld
}

func (ld *load) setRate(route int, perSecond float64) {
	ld.rates[route].Store(math.Float64bits(perSecond))
}

func (ld *load) now() time.Duration { return time.Since(ld.begin) }

func (ld *load) run() {
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	var next [nRoutes]time.Duration
	for {
		select {
		case <-ld.stop:
			return
		case <-tick.C:
		}
		now := ld.now()
		for r := range next {
			rate := math.Float64frombits(ld.rates[r].Load())
			if rate <= 0 {
				next[r] = now
				continue
			}
			// Start every request whose time has come: the schedule holds
			// however late the ticker runs.
			for ; next[r] <= now; next[r] += time.Duration(float64(time.Second) / rate) {
				o := &outcome{route: r, start: next[r]}
				ld.mu.Lock()
				ld.outcomes = append(ld.outcomes, o)
				ld.mu.Unlock()
				ld.requests.Go(func() { ld.call(o) })
			}
		}
	}
}

// call sends one user request; only a 200 within the user's patience is ok.
func (ld *load) call(o *outcome) {
	ctx, cancel := context.WithTimeout(context.Background(), ld.patience)
	defer cancel()
	begin := time.Now()
	ok := false
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ld.url+routePaths[o.route], nil)
	if err == nil {
		var resp *http.Response
		if resp, err = ld.client.Do(req); err == nil {
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			ok = err == nil && resp.StatusCode == http.StatusOK
		}
	}
	lat := time.Since(begin)
	ld.mu.Lock()
	o.latency, o.ok, o.done = lat, ok, true
	ld.mu.Unlock()
}

// finish stops the load and waits for every request to end.
func (ld *load) finish() {
	close(ld.stop)
	ld.ticker.Wait()
	ld.requests.Wait()
	ld.tr.CloseIdleConnections()
}

// window returns the outcomes of the requests started in [from, to).
func (ld *load) window(from, to time.Duration) []outcome {
	ld.mu.Lock()
	defer ld.mu.Unlock()
	var out []outcome
	for _, o := range ld.outcomes {
		if o.start >= from && o.start < to {
			out = append(out, *o)
		}
	}
	return out
}

// Recovery is judged on buckets of requests by start time: a route has
// recovered from the first of recoveredRun buckets in a row, each finished
// and with at least recoveredShare of its requests ok.
const (
	bucket         = 200 * time.Millisecond
	recoveredRun   = 3
	recoveredShare = 0.9
)

// recovered reports whether route has recovered since from, and when
// (relative to from).
func (ld *load) recovered(route int, from time.Duration) (time.Duration, bool) {
	outs := ld.window(from, ld.now())
	var n, ok, pending []int
	for _, o := range outs {
		if o.route != route {
			continue
		}
		i := int((o.start - from) / bucket)
		for len(n) <= i {
			n, ok, pending = append(n, 0), append(ok, 0), append(pending, 0)
		}
		n[i]++
		if !o.done {
			pending[i]++
		} else if o.ok {
			ok[i]++
		}
	}
	run, first := 0, 0
	for i := range n {
		switch {
		case pending[i] > 0:
			return 0, false
		case n[i] == 0:
			continue
		case float64(ok[i]) >= recoveredShare*float64(n[i]):
			if run++; run == 1 {
				first = i
			}
			if run == recoveredRun {
				return time.Duration(first) * bucket, true
			}
		default:
			run = 0
		}
	}
	return 0, false
}
