package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	testpb "google.golang.org/grpc/interop/grpc_testing"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/breaker"
	"github.com/callguard/callguard/bulkhead"
	"github.com/callguard/callguard/httpx"
	"github.com/callguard/callguard/loadshed"
	"github.com/callguard/callguard/route"
	"github.com/callguard/callguard/stack"
	"github.com/callguard/callguard/ttl"
)

// config is one system's shape: which setup, and how fast each service is.
type config struct {
	guarded      bool          // callguard's stacks; else plain clients with naive retries
	routes       bool          // with guarded: route availability on the checkout path
	edgeDeadline time.Duration // the edge's own limit per request

	apiWork, ordersWork time.Duration // each request's work before the call below
	ordersTail          time.Duration // extra work of every tailEvery-th orders request
	tailEvery           int64

	payWorkers, catWorkers int
	payWork, catWork       time.Duration
	payMinService          time.Duration // with callguard: payments' WithMinServiceTime
}

// What the services count, read in snapshots around a fault.
const (
	payCalls       = iota // attempts orders sent to payments while their caller still waited
	catCalls              // attempts api sent to catalog while their caller still waited
	apiArrivals           // checkout requests that reached api, revisits included
	loopRefused           // requests api refused as a call loop
	refShed               // edge requests refused by the edge's own limiter
	refThrottled          // ... by the edge's throttle for api
	refOpen               // ... by the edge's breaker for api
	refFull               // ... by the edge's bulkhead for api
	refRoute              // ... by the edge's route table
	refOther              // ... otherwise (too little time left, ...)
	payStarted            // payments requests given a worker
	payWasted             // of those, ended by their caller before their work was done
	payShort              // payments requests started with less time left than their work (with callguard: or no deadline)
	payTimeRefused        // payments requests refused for want of time
	nCounts
)

type counts [nCounts]int64

func (c counts) sub(o counts) (d counts) {
	for i := range c {
		d[i] = c[i] - o[i]
	}
	return d
}

// edgeRefused is the edge requests refused at the edge, api not called.
func (c counts) edgeRefused() (n int64) {
	for _, v := range c[refShed : refRoute+1] {
		n += v
	}
	return n
}

// A system is edge → api → {orders → payments, catalog} on 127.0.0.1:
// HTTP everywhere except api → catalog, which is gRPC.
type system struct {
	cfg                              config
	edge, api, orders, payments      *server
	catalog                          *grpc.Server
	catDone                          chan struct{}
	catConn                          *grpc.ClientConn
	catStub                          testpb.TestServiceClient
	edgeTr, apiTr, ordersTr          *http.Transport
	edgeClient, apiClient, ordClient *http.Client
	payPool, catPool                 *pool
	ordersTarget                     atomic.Pointer[string] // orders' URL for payments: the loop points it at api
	ordersSeq                        atomic.Int64

	n [nCounts]atomic.Int64
}

func (sys *system) counts() (c counts) {
	for i := range c {
		c[i] = sys.n[i].Load()
	}
	c[payStarted], c[payWasted] = sys.payPool.started.Load(), sys.payPool.wasted.Load()
	return c
}

// refused counts a refusal at the edge by the policy that made it.
func (sys *system) refused(err error) {
	i := refOther
	switch {
	case errors.Is(err, loadshed.ErrShed):
		i = refShed
	case errors.Is(err, loadshed.ErrThrottled):
		i = refThrottled
	case errors.Is(err, breaker.ErrOpen):
		i = refOpen
	case errors.Is(err, bulkhead.ErrFull):
		i = refFull
	case errors.Is(err, route.ErrUnavailable):
		i = refRoute
	}
	sys.n[i].Add(1)
}

func newSystem(cfg config) (*system, error) {
	sys := &system{cfg: cfg, payPool: newPool(cfg.payWorkers, cfg.payWork), catPool: newPool(cfg.catWorkers, cfg.catWork)}
	var err error
	if sys.payments, err = startServer(sys.paymentsHandler()); err != nil {
		return nil, err
	}
	payURL := "http://" + sys.payments.addr
	sys.ordersTarget.Store(&payURL)
	if err := sys.startCatalog(); err != nil {
		sys.close()
		return nil, err
	}
	for _, s := range []struct {
		dst **server
		h   http.Handler
	}{{&sys.orders, sys.ordersHandler()}, {&sys.api, sys.apiHandler()}, {&sys.edge, sys.edgeHandler()}} {
		if *s.dst, err = startServer(s.h); err != nil {
			sys.close()
			return nil, err
		}
	}
	return sys, nil
}

// client returns the HTTP client a service uses for one backend: the
// recommended stack in its transport, or a plain one.
func (sys *system) client(tr http.RoundTripper, backend string, opts ...httpx.TransportOption) *http.Client {
	if sys.cfg.guarded {
		tr = httpx.NewTransport(tr, stack.Client(stack.WithName(backend)), opts...)
	}
	return &http.Client{Transport: tr}
}

// routeClient is client, with a route table in front of the stack when
// the system has route availability: the client refuses a route whose
// dependency the backend reported down.
func (sys *system) routeClient(tr http.RoundTripper, backend string) *http.Client {
	c := sys.client(tr, backend)
	if sys.cfg.routes {
		c.Transport = httpx.NewRouteTransport(c.Transport, route.New(), nil)
	}
	return c
}

// serverHandler puts h under the recommended server stack of service, or
// leaves it plain.
func (sys *system) serverHandler(service string, h http.Handler, opts ...httpx.HandlerOption) http.Handler {
	if !sys.cfg.guarded {
		return h
	}
	return httpx.Handler(h, stack.Server(service), opts...)
}

func (sys *system) edgeHandler() http.Handler {
	sys.edgeTr = newTransport()
	sys.edgeClient = sys.routeClient(sys.edgeTr, "api")
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if !sys.cfg.guarded { // the naive edge's own limit
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, sys.cfg.edgeDeadline)
			defer cancel()
		}
		err := sys.get(ctx, w, sys.edgeClient, "http://"+sys.api.addr+r.URL.Path)
		if errors.Is(err, callguard.ErrRejected) { // throttle, open breaker, full bulkhead: api never saw it
			sys.refused(err)
		}
	})
	return sys.serverHandler("edge", h, httpx.Edge(), httpx.WithMaxDeadline(sys.cfg.edgeDeadline),
		httpx.OnReject(func(_ *http.Request, err error) { sys.refused(err) }))
}

func (sys *system) apiHandler() http.Handler {
	sys.apiTr = newTransport()
	sys.apiClient = sys.routeClient(sys.apiTr, "orders")
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := sleep(r.Context(), sys.cfg.apiWork); err != nil {
			return
		}
		switch r.URL.Path {
		case "/checkout":
			sys.get(r.Context(), w, sys.apiClient, "http://"+sys.orders.addr+r.URL.Path)
		case "/browse":
			sys.browse(w, r)
		default:
			http.NotFound(w, r)
		}
	})
	g := sys.serverHandler("api", h, httpx.OnReject(func(_ *http.Request, err error) {
		if _, ok := errors.AsType[*ttl.LoopError](err); ok {
			sys.n[loopRefused].Add(1)
		}
	}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/checkout" {
			sys.n[apiArrivals].Add(1)
		}
		g.ServeHTTP(w, r)
	})
}

// browse is api's call to catalog, over gRPC.
func (sys *system) browse(w http.ResponseWriter, r *http.Request) {
	var err error
	for attempt := 1; ; attempt++ { // one pass with callguard: grpcx retries
		_, err = sys.catStub.UnaryCall(r.Context(), &testpb.SimpleRequest{})
		if err == nil || sys.cfg.guarded || attempt == naiveAttempts || sleep(r.Context(), naivePause) != nil {
			break
		}
	}
	switch {
	case err == nil:
		io.WriteString(w, "ok")
	case sys.cfg.guarded:
		httpx.Error(w, err)
	default:
		http.Error(w, "catalog: "+err.Error(), http.StatusBadGateway)
	}
}

func (sys *system) ordersHandler() http.Handler {
	sys.ordersTr = newTransport()
	var deps []httpx.TransportOption
	if sys.cfg.routes { // orders names payments when its breaker for it is open
		deps = append(deps, httpx.WithDependency("payments", breaker.ErrOpen))
	}
	sys.ordClient = sys.client(countCalls{sys.ordersTr, sys}, "payments", deps...)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		work := sys.cfg.ordersWork
		if sys.cfg.tailEvery > 0 && sys.ordersSeq.Add(1)%sys.cfg.tailEvery == 0 {
			work += sys.cfg.ordersTail
		}
		if sleep(r.Context(), work) != nil {
			return
		}
		sys.get(r.Context(), w, sys.ordClient, *sys.ordersTarget.Load()+r.URL.Path)
	})
	return sys.serverHandler("orders", h)
}

func (sys *system) paymentsHandler() http.Handler {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		dl, ok := r.Context().Deadline()
		if ok && time.Until(dl) < time.Duration(sys.payPool.work.Load()) || !ok && sys.cfg.guarded {
			sys.n[payShort].Add(1)
		}
		if err := sys.payPool.serve(r.Context()); err != nil {
			return
		}
		io.WriteString(w, "ok")
	})
	var opts []httpx.HandlerOption
	if sys.cfg.payMinService > 0 {
		opts = append(opts, httpx.WithMinServiceTime(sys.cfg.payMinService))
	}
	opts = append(opts, httpx.OnReject(func(_ *http.Request, err error) {
		if errors.Is(err, loadshed.ErrDeadline) {
			sys.n[payTimeRefused].Add(1)
		}
	}))
	return sys.serverHandler("payments", h, opts...)
}

// The naive clients' retry loop: a few attempts, a short fixed pause, as
// hand-written loops do.
const (
	naiveAttempts = 3
	naivePause    = 10 * time.Millisecond
)

// get calls url with ctx and answers w with what came back: the body, or
// the error passed on (httpx.Error with callguard; a plain 5xx without).
// It returns the error.
func (sys *system) get(ctx context.Context, w http.ResponseWriter, c *http.Client, url string) error {
	var resp *http.Response
	var err error
	for attempt := 1; ; attempt++ { // one pass with callguard: the transport retries
		var req *http.Request
		if req, err = http.NewRequestWithContext(ctx, http.MethodGet, url, nil); err != nil {
			break
		}
		resp, err = c.Do(req)
		if err == nil && resp.StatusCode < 500 || sys.cfg.guarded || attempt == naiveAttempts {
			break
		}
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		if err = sleep(ctx, naivePause); err != nil {
			resp = nil
			break
		}
	}
	if err == nil {
		defer resp.Body.Close()
		if sys.cfg.guarded {
			err = httpx.ResponseError(resp)
		} else if resp.StatusCode >= 300 {
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
	}
	switch {
	case err == nil:
		io.Copy(w, resp.Body)
	case sys.cfg.guarded:
		httpx.Error(w, err)
	case resp != nil:
		w.WriteHeader(resp.StatusCode)
	default:
		http.Error(w, err.Error(), http.StatusBadGateway)
	}
	return err
}

// countCalls counts the attempts sent to payments whose caller still waits.
type countCalls struct {
	next http.RoundTripper
	sys  *system
}

func (c countCalls) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Host == c.sys.payments.addr && req.Context().Err() == nil {
		c.sys.n[payCalls].Add(1)
	}
	return c.next.RoundTrip(req)
}

func newTransport() *http.Transport {
	return &http.Transport{MaxIdleConnsPerHost: 256, IdleConnTimeout: 30 * time.Second}
}

// close stops every service once the requests on it have ended. The
// clients' idle connections close first: a server waits up to 5 s for a
// connection that never carried a request (one a client dialled for a
// request that another connection served) before it deems it idle.
func (sys *system) close() {
	sys.closeIdle()
	if sys.catConn != nil {
		sys.catConn.Close()
	}
	for _, s := range []*server{sys.edge, sys.api, sys.orders, sys.payments} {
		if s != nil {
			s.close()
		}
	}
	if sys.catalog != nil {
		sys.catalog.GracefulStop()
		<-sys.catDone
	}
	sys.closeIdle()
}

func (sys *system) closeIdle() {
	for _, tr := range []*http.Transport{sys.edgeTr, sys.apiTr, sys.ordersTr} {
		if tr != nil {
			tr.CloseIdleConnections()
		}
	}
}
