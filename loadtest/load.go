package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"time"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/breaker"
	"github.com/callguard/callguard/bulkhead"
	"github.com/callguard/callguard/httpx"
	"github.com/callguard/callguard/loadshed"
	"github.com/callguard/callguard/retry"
	"github.com/callguard/callguard/timeout"
	"github.com/callguard/callguard/ttl"
)

// deadline is how long each client waits for its answer.
const deadline = 100 * time.Millisecond

// recommendedClient is the README's recommended client stack ("Usage" and
// "Composition order"), with the throttle outermost. Each phase gets a
// fresh one, as a fresh process would: its own budget, throttle and
// breaker.
func recommendedClient() callguard.Policy {
	budget := retry.NewBudget() // shared by every client of this process
	return callguard.Chain(
		loadshed.NewThrottle(),
		retry.New(retry.WithBudget(budget)),
		breaker.New(breaker.WithName("pool")),
		bulkhead.New(64),
		timeout.New(300*time.Millisecond),
	)
}

// serverPolicy is the README's server stack of "Load shedding", around the
// limiter lim.
func serverPolicy(lim *loadshed.Limiter) callguard.Policy {
	return callguard.Chain(ttl.New(ttl.WithService("pool")), lim, timeout.New(2*time.Second))
}

// A setup is one row group of the table: who sends the requests and who
// serves them.
type setup struct {
	id, name string
	limiter  bool // the server runs the pool under serverPolicy
	stack    bool // the client sends through httpx.NewTransport(recommendedClient())
	mixed    bool // alternate critical and sheddable requests; else none has a priority
}

var setups = []setup{
	{"a", "plain client, no limiter", false, false, false},
	{"b", "plain client, limiter", true, false, false},
	{"c", "client stack, limiter", true, true, false},
	{"d", "client stack, limiter, 50/50", true, true, true},
	{"e", "plain client, limiter, 50/50", true, false, true},
}

// A phase is one run of a setup at one load: open loop, for warmup+measure,
// with only the requests started after warmup counted.
type phase struct {
	setup
	factor          float64 // offered load, in multiples of capacity
	warmup, measure time.Duration
}

func (ph phase) rate() float64 { return ph.factor * capacity }

// run offers the phase's load to a fresh server on 127.0.0.1 and returns
// what the clients saw. It returns when every request has ended; each ends
// by its deadline, so a phase lasts at most warmup+measure+deadline plus the
// time the machine needs to schedule it.
func (ph phase) run() *result {
	var h http.Handler = newPool()
	var lim *loadshed.Limiter
	if ph.limiter {
		lim = loadshed.New()
		h = httpx.Handler(h, serverPolicy(lim))
	}
	var hits atomic.Int64 // requests that reach the server, retries included
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		h.ServeHTTP(w, r)
	})) // on 127.0.0.1
	defer ts.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: 1024}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	if ph.stack {
		client.Transport = httpx.NewTransport(tr, recommendedClient())
	}
	outcomes := ph.offer(client, ts.URL)
	r := newResult(ph, outcomes)
	r.sent = float64(hits.Load()) / float64(len(outcomes))
	if lim != nil {
		r.limit = lim.Limit()
	}
	return r
}

// offer starts the phase's requests on their schedule, whatever the server
// does, and waits for all of them.
func (ph phase) offer(client *http.Client, url string) []outcome {
	interval := time.Duration(float64(time.Second) / ph.rate())
	n := int((ph.warmup + ph.measure) / interval)
	outcomes := make([]outcome, n)
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	start := time.Now()
	for i := 0; i < n; <-tick.C {
		// Start every request whose time has come: the schedule holds
		// however late the ticker runs.
		for ; i < n && time.Since(start) >= time.Duration(i)*interval; i++ {
			k, p := i, loadshed.Default
			if ph.mixed {
				p = [2]loadshed.Priority{loadshed.Critical, loadshed.Sheddable}[k%2]
			}
			due := time.Duration(k) * interval
			wg.Go(func() { outcomes[k] = ph.call(client, url, p, start, due) })
		}
	}
	wg.Wait()
	return outcomes
}

// The kinds of outcome.
const (
	kindOK      = iota
	kindShed    // the server answered 503
	kindRefused // the client's policy refused it without an answer: throttle, open breaker, full bulkhead
	kindTimeout // no answer within the deadline
	kindError   // anything else
)

type outcome struct {
	kind    int
	p       loadshed.Priority
	due     time.Duration // scheduled start, since the phase started
	lag     time.Duration // actual start − scheduled start
	latency time.Duration
	done    time.Duration // since the phase started
	status  int           // of an error with a response
	err     error         // of an error without one
}

// call sends one request with the client's deadline and says how it went.
// A priority travels as the README says: in the context through the client
// stack, which sends it on, and as the Callguard-Priority header from a
// plain client.
func (ph phase) call(client *http.Client, url string, p loadshed.Priority, start time.Time, due time.Duration) outcome {
	begin := time.Now()
	o := outcome{kind: kindError, p: p, due: due, lag: begin.Sub(start) - due}
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	if p != loadshed.Default && ph.stack {
		ctx = loadshed.NewContext(ctx, p)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		o.err = err
		return o
	}
	if p != loadshed.Default && !ph.stack {
		req.Header.Set(loadshed.PriorityHeader, p.String())
	}
	resp, err := client.Do(req)
	if err == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	o.latency, o.done = time.Since(begin), time.Since(start)
	o.classify(resp, err)
	return o
}

func (o *outcome) classify(resp *http.Response, err error) {
	switch {
	case errors.Is(err, context.DeadlineExceeded), o.latency > deadline: // answered too late
		o.kind = kindTimeout
	case errors.Is(err, callguard.ErrRejected):
		o.kind = kindRefused
	case err != nil:
		o.err = err
	case resp.StatusCode == http.StatusOK:
		o.kind = kindOK
	case resp.StatusCode == http.StatusServiceUnavailable:
		o.kind = kindShed
	default:
		o.status = resp.StatusCode
	}
}
