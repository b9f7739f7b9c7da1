package main

import (
	"context"
	"sync/atomic"
	"time"
)

// A pool is a service's fixed capacity, as in the load harness (loadtest/):
// a request waits, in arrival order, for one of the workers and keeps it for
// the current work time, or until its caller goes away. A worker keeps its
// own schedule, as a CPU-bound one would: a request that waited starts when
// the previous one ended, not when its goroutine wakes up, so the capacity
// is exact on a busy machine too.
//
// A pool is safe for concurrent use: a worker belongs to one request at a
// time, passed on through the channel.
type pool struct {
	free chan *worker
	work atomic.Int64 // nanoseconds of work per request

	started, wasted atomic.Int64 // requests given a worker; of those, ended by their caller before the work was done
}

type worker struct{ freeAt time.Time }

func newPool(workers int, work time.Duration) *pool {
	p := &pool{free: make(chan *worker, workers)}
	for range workers {
		p.free <- &worker{}
	}
	p.setWork(work)
	return p
}

func (p *pool) setWork(d time.Duration) { p.work.Store(int64(d)) }

// serve waits for a worker and works for the request. It returns ctx's error
// when the caller went away first.
func (p *pool) serve(ctx context.Context) error {
	queued := time.Now()
	var wk *worker
	select {
	case wk = <-p.free:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { p.free <- wk }()
	p.started.Add(1)
	end := queued
	if wk.freeAt.After(end) {
		end = wk.freeAt
	}
	end = end.Add(time.Duration(p.work.Load()))
	t := time.NewTimer(time.Until(end))
	defer t.Stop()
	select {
	case <-t.C:
		wk.freeAt = end
		return nil
	case <-ctx.Done(): // the caller gave up: stop working for it
		wk.freeAt = time.Now()
		p.wasted.Add(1)
		return ctx.Err()
	}
}

// sleep waits for d, or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
