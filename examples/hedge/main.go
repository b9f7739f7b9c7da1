// Command hedge measures hedged requests against a loopback HTTP service
// where 1% of requests take 10× the normal latency (measurement G13).
//
// The server answers each request after 2 ms, except a random 1% of them
// (a straggler: a slow copy, a garbage collection) after 20 ms; it stops
// waiting when the client goes away. Clients send the same number of
// requests with and without a hedge.Hedger (defaults: one hedge after the
// p95 latency of recent calls, within 5% extra requests plus a burst of
// 10), and the program prints the latency quantiles, the share of calls
// slower than 5× the median, and the extra requests the server received.
//
//	go run ./examples/hedge [-n 20000] [-c 8]
//
// It takes about 15 s. Figures vary with the machine; the ratios are
// what to compare.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/callguard/callguard/hedge"
)

func main() {
	n := flag.Int("n", 20000, "requests per run")
	c := flag.Int("c", 8, "concurrent clients")
	normal := flag.Duration("normal", 2*time.Millisecond, "normal latency")
	share := flag.Float64("stragglers", 0.01, "share of requests that take 10× the normal latency")
	flag.Parse()

	var arrivals atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrivals.Add(1)
		d := *normal
		if rand.Float64() < *share {
			d *= 10
		}
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			io.WriteString(w, "ok")
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: 4 * *c}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	get := func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}

	plain := func(ctx context.Context, fn func(context.Context) error) error { return fn(ctx) }
	h := hedge.New()
	hedged := func(ctx context.Context, fn func(context.Context) error) error {
		return h.Do(hedge.ContextSafe(ctx), fn)
	}

	run(*n/10, *c, get, hedged, &arrivals) // warm up: connections, and the hedger's latency window
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "client\tp50\tp99\tp99.5\tp99.9\t> 5× p50\textra requests\t\n")
	for _, r := range []struct {
		name string
		do   func(context.Context, func(context.Context) error) error
	}{{"plain", plain}, {"hedged", hedged}} {
		lat, sent := run(*n, *c, get, r.do, &arrivals)
		p50 := q(lat, 0.50)
		slow := 0
		for _, d := range lat {
			if d > 5*p50 {
				slow++
			}
		}
		fmt.Fprintf(w, "%s\t%v\t%v\t%v\t%v\t%.2f%%\t%.2f%%\t\n", r.name,
			ms(p50), ms(q(lat, 0.99)), ms(q(lat, 0.995)), ms(q(lat, 0.999)),
			100*float64(slow)/float64(len(lat)), 100*float64(sent-int64(len(lat)))/float64(len(lat)))
	}
	w.Flush()
	fmt.Printf("(%d requests per run, %d clients, %v normal, %.1f%% at 10×; hedge delay at the end %v)\n",
		*n, *c, *normal, 100**share, ms(h.Delay()))
}

// run sends n requests from c goroutines through do and returns the
// sorted latencies and the number of requests the server received.
func run(n, c int, get func(context.Context) error, do func(context.Context, func(context.Context) error) error, arrivals *atomic.Int64) ([]time.Duration, int64) {
	start := arrivals.Load()
	lat := make([]time.Duration, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range c {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				t0 := time.Now()
				if err := do(context.Background(), get); err != nil {
					log.Fatalf("request %d: %v", i, err)
				}
				lat[i] = time.Since(t0)
			}
		})
	}
	wg.Wait()
	slices.Sort(lat)
	return lat, arrivals.Load() - start
}

// q returns the nearest-rank quantile of sorted latencies.
func q(sorted []time.Duration, p float64) time.Duration {
	i := int(float64(len(sorted))*p+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/1e6) }
