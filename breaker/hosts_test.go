package breaker_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"

	"github.com/callguard/callguard/breaker"
)

// picker spreads calls over hosts round-robin and skips a host whose
// breaker is open: what a client-side balancer does with per-host
// breakers. breakerOf returns the breaker that guards a host.
type picker struct {
	hosts     []string
	next      atomic.Uint64
	breakerOf func(host string) *breaker.Breaker
}

// pick returns the next host whose breaker lets calls through, or the next
// host if none does (its breaker then refuses the call).
func (p *picker) pick() string {
	start := p.next.Add(1)
	for i := range uint64(len(p.hosts)) {
		h := p.hosts[(start+i)%uint64(len(p.hosts))]
		if s := p.breakerOf(h).State(); s != breaker.Open && s != breaker.ForcedOpen {
			return h
		}
	}
	return p.hosts[start%uint64(len(p.hosts))]
}

// TestThreeCopiesOneFailing runs three real loopback HTTP backends, one of
// which answers every request with a 500, and a client that picks a host
// per call as above. With a breaker per host, the failing host's breaker
// opens and the picker skips it: after the warm-up, at least 99% of calls
// succeed (the rest are the half-open probes, one per open timeout). With
// one breaker shared by the three hosts, the failures of one host are a
// third of the calls: below the trip rules, so nothing is skipped and a
// third of the calls fail; if the shared breaker did open, it would refuse
// the healthy hosts' calls too.
func TestThreeCopiesOneFailing(t *testing.T) {
	const warmup, calls = 100, 3000
	var hosts []string
	for i := range 3 {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if i == 1 {
				http.Error(w, "broken copy", http.StatusInternalServerError)
				return
			}
			io.WriteString(w, "ok")
		}))
		defer srv.Close()
		u, _ := url.Parse(srv.URL)
		hosts = append(hosts, u.Host)
	}
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	errStatus := errors.New("status 500")
	get := func(host string) func(context.Context) error {
		return func(ctx context.Context) error {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+host+"/", nil)
			resp, err := client.Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			_, _ = io.Copy(io.Discard, resp.Body)
			if resp.StatusCode != http.StatusOK {
				return errStatus
			}
			return nil
		}
	}
	run := func(p *picker, do func(host string) error) float64 {
		ok := 0
		for i := range warmup + calls {
			err := do(p.pick())
			if i >= warmup && err == nil {
				ok++
			}
		}
		return float64(ok) / calls
	}

	keyed := breaker.NewKeyed(16, 0)
	perHost := run(&picker{hosts: hosts, breakerOf: keyed.Get}, func(h string) error {
		return keyed.Do(context.Background(), h, get(h))
	})
	shared := breaker.New()
	oneForAll := run(&picker{hosts: hosts, breakerOf: func(string) *breaker.Breaker { return shared }}, func(h string) error {
		return shared.Do(context.Background(), get(h))
	})
	t.Logf("success after warm-up: %.2f%% with a breaker per host, %.2f%% with one shared breaker", 100*perHost, 100*oneForAll)
	if perHost < 0.99 {
		t.Errorf("breaker per host: success %.2f%%, want >= 99%%", 100*perHost)
	}
	if oneForAll >= 0.99 {
		t.Errorf("one shared breaker: success %.2f%%, want < 99%% (the test does not tell the two apart)", 100*oneForAll)
	}
	if s := keyed.Get(hosts[1]).State(); s != breaker.Open && s != breaker.HalfOpen {
		t.Errorf("failing host's breaker: %v, want open or half-open", s)
	}
}
