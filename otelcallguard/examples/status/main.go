// Command status shows callguard's observation surface at work: a flaky
// downstream service on 127.0.0.1, a client that calls it under throttle,
// retry, breaker, bulkhead and timeout, and an admin server with the live
// status page and /metrics through OpenTelemetry's Prometheus exporter.
//
//	cd otelcallguard && go run ./examples/status -duration 10s
//
// The downstream answers 500 from -fail-at for -fail-for (2 s and 4 s by
// default): the client's breaker opens, probes, and closes again once the
// downstream recovers; the page shows it. The downstream's limiter (a
// fixed limit of 4) sheds sheddable requests first. POST
// /control/fail?on=true (or false) on the admin address fails the
// downstream by hand. With -check the command exits 1 unless the breaker
// opened and, when the downstream recovered 3 s before the end, closed
// again. The admin address serves the status page: keep it on loopback
// or an admin network, never facing the internet.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/breaker"
	"github.com/callguard/callguard/bulkhead"
	"github.com/callguard/callguard/httpx"
	"github.com/callguard/callguard/loadshed"
	"github.com/callguard/callguard/observe"
	"github.com/callguard/callguard/otelcallguard"
	"github.com/callguard/callguard/retry"
	"github.com/callguard/callguard/timeout"
)

type config struct {
	admin           string
	duration        time.Duration
	failAt, failFor time.Duration
	workers         int
	logs, check     bool
}

func main() {
	var c config
	flag.StringVar(&c.admin, "admin", "127.0.0.1:9464", "admin address: status page at /status, metrics at /metrics")
	flag.DurationVar(&c.duration, "duration", 0, "stop after this long; 0 runs until interrupted")
	flag.DurationVar(&c.failAt, "fail-at", 2*time.Second, "when the downstream starts to fail")
	flag.DurationVar(&c.failFor, "fail-for", 4*time.Second, "how long it fails; 0: never")
	flag.IntVar(&c.workers, "workers", 6, "concurrent callers")
	flag.BoolVar(&c.logs, "log", false, "structured logs of every event to stderr")
	flag.BoolVar(&c.check, "check", false, "exit 1 unless the breaker opened")
	flag.Parse()
	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "status:", err)
		os.Exit(1)
	}
}

func run(c config) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if c.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.duration)
		defer cancel()
	}

	reg := prometheus.NewRegistry()
	exp, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return err
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
	defer func() { _ = mp.Shutdown(context.Background()) }()
	metrics, err := otelcallguard.NewMetrics(otelcallguard.WithMeterProvider(mp))
	if err != nil {
		return err
	}
	opts := []observe.Option{observe.WithSink(metrics)}
	if c.logs {
		opts = append(opts, observe.WithLogger(slog.New(slog.NewTextHandler(os.Stderr, nil))))
	}
	o := observe.New(opts...)

	down := &downstream{}
	downURL, stopDown, err := serveDownstream(o, down)
	if err != nil {
		return err
	}
	defer stopDown()

	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("/status", o.Handler())
	mux.Handle("GET /{$}", http.RedirectHandler("/status", http.StatusFound))
	mux.HandleFunc("POST /control/fail", func(w http.ResponseWriter, r *http.Request) {
		down.manual.Store(r.URL.Query().Get("on") == "true")
		fmt.Fprintf(w, "downstream failing: %v\n", down.manual.Load())
	})
	adminAddr, stopAdmin, err := serve(c.admin, mux)
	if err != nil {
		return err
	}
	defer stopAdmin()
	fmt.Printf("status page: http://%s/status\nmetrics:     http://%s/metrics\ndownstream:  %s\n", adminAddr, adminAddr, downURL)

	client := newClient(o)
	start := time.Now()
	down.failing = func() bool {
		since := time.Since(start)
		return c.failFor > 0 && since >= c.failAt && since < c.failAt+c.failFor
	}
	var wg sync.WaitGroup
	var calls, failed atomic.Int64
	for i := range c.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			work(ctx, client, downURL, priorities[i%len(priorities)], &calls, &failed)
		}()
	}
	wg.Wait()
	client.CloseIdleConnections()
	// The breaker must have closed again if the downstream recovered well
	// before the end (a probe goes after 1 s).
	recovered := c.failFor > 0 && time.Since(start) > c.failAt+c.failFor+3*time.Second && !down.manual.Load()
	return summary(o, calls.Load(), failed.Load(), c.check, recovered)
}

var priorities = []loadshed.Priority{loadshed.Critical, loadshed.Default, loadshed.Sheddable}

// newClient returns an HTTP client whose every request runs under the
// recommended client stack, each policy named "payments" and watched.
func newClient(o *observe.Observer) *http.Client {
	budget := retry.NewBudget()
	o.WatchBudget("payments", budget)
	p := callguard.Chain(
		o.Watch("payments", loadshed.NewThrottle()),
		o.Watch("payments", retry.New(append(o.Retry("payments"), retry.WithBudget(budget), retry.WithBackoff(20*time.Millisecond, 200*time.Millisecond))...)),
		o.Watch("payments", breaker.New(append(o.Breaker("payments"), breaker.WithOpenTimeout(time.Second))...)),
		o.Watch("payments", bulkhead.New(8)),
		o.Watch("payments", timeout.New(250*time.Millisecond)),
	)
	return &http.Client{Transport: httpx.NewTransport(nil, p)}
}

// work calls the downstream until ctx ends, one call every 10 ms.
func work(ctx context.Context, client *http.Client, url string, p loadshed.Priority, calls, failed *atomic.Int64) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rctx := callguard.ContextWithRequestID(loadshed.NewContext(ctx, p), callguard.NewRequestID())
		req, err := http.NewRequestWithContext(rctx, http.MethodGet, url, nil)
		if err != nil {
			panic(err)
		}
		calls.Add(1)
		resp, err := client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				err = errors.New(resp.Status)
			}
		}
		if err != nil && ctx.Err() == nil {
			failed.Add(1)
		}
		t.Reset(10 * time.Millisecond)
	}
}

// downstream answers after 3 ms of work, with 500 while it is failing.
type downstream struct {
	failing func() bool
	manual  atomic.Bool
}

func (d *downstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t := time.NewTimer(3 * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
		return
	}
	if d.manual.Load() || (d.failing != nil && d.failing()) {
		http.Error(w, "downstream failing", http.StatusInternalServerError)
		return
	}
	_, _ = io.WriteString(w, "ok\n")
}

// serveDownstream serves d on 127.0.0.1 behind a fixed limit of 4
// concurrent requests, sheddable ones refused first.
func serveDownstream(o *observe.Observer, d *downstream) (url string, stop func(), err error) {
	lim := loadshed.New(append(o.Limiter("payments"), loadshed.WithFixedLimit(4))...)
	h := httpx.Handler(d, callguard.Chain(o.Watch("payments", lim)), httpx.WithRequestIDs())
	addr, stop, err := serve("127.0.0.1:0", h)
	return "http://" + addr + "/pay", stop, err
}

// serve serves h on addr until stop is called.
func serve(addr string, h http.Handler) (string, func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	return ln.Addr().String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	}, nil
}

// summary prints what the policies did and, with check, fails unless the
// breaker opened, and, if the downstream recovered, closed again.
func summary(o *observe.Observer, calls, failed int64, check, recovered bool) error {
	fmt.Printf("calls: %d, failed: %d\n", calls, failed)
	opened, closed := false, false
	for _, st := range o.Snapshot().Policies {
		line := fmt.Sprintf("%-9s %-9s calls %6d  failures %5d  refusals %v", st.Kind, st.Name, st.Calls, st.Failures, st.Refusals)
		switch {
		case st.Breaker != nil:
			line += fmt.Sprintf("  state %s, %d transitions", st.Breaker.State, st.Breaker.Transitions)
			opened = opened || st.Breaker.Transitions > 0
			closed = st.Breaker.State == breaker.Closed.String()
		case st.Limiter != nil:
			line += fmt.Sprintf("  limit %d, shed %v", st.Limiter.Limit, st.Shed)
		case st.Retry != nil:
			line += fmt.Sprintf("  attempts %d, retries %d, gave up %d", st.Retry.Attempts, st.Retry.Retries, st.Retry.GiveUps)
		case st.Budget != nil:
			line += fmt.Sprintf("  tokens %.1f of %.0f", st.Budget.Tokens, st.Budget.Capacity)
		}
		fmt.Println(line)
	}
	switch {
	case check && !opened:
		return errors.New("check: the breaker never opened")
	case check && recovered && !closed:
		return errors.New("check: the breaker did not close after the downstream recovered")
	}
	return nil
}
