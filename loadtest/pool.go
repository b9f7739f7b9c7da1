package main

import (
	"io"
	"net/http"
	"time"
)

// The server's fixed capacity: workers requests at a time, work each.
const (
	workers  = 4
	work     = 5 * time.Millisecond
	capacity = workers * float64(time.Second) / float64(work) // requests per second
)

// pool is the service, as in loadshed's tests: a
// request waits, in arrival order, for one of the workers, and keeps it for
// work, or until its client goes away. A worker keeps its own schedule, as
// a CPU-bound one would: a request that waited starts when the previous one
// ended, not when its goroutine wakes up, so the capacity is exact on a
// busy machine too; lateness shows in latency only.
//
// A pool is safe for concurrent use: a worker belongs to one request at a
// time, passed on through the channel.
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
