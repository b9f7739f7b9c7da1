package observe_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/breaker"
	"github.com/callguard/callguard/bulkhead"
	"github.com/callguard/callguard/loadshed"
	"github.com/callguard/callguard/observe"
	"github.com/callguard/callguard/retry"
)

// statusObserver has one open breaker that refused request "req-7", a
// limiter, a bulkhead, a retry policy and a budget.
func statusObserver(t *testing.T) *observe.Observer {
	t.Helper()
	o := observe.New()
	cb := o.Watch("payments", breaker.New(append(o.Breaker("payments"), breaker.WithConsecutiveFailures(1), breaker.WithOpenTimeout(time.Hour))...))
	_ = cb.Do(context.Background(), fail)
	_ = cb.Do(callguard.ContextWithRequestID(context.Background(), "req-7"), ok)
	o.Watch("closed-one", breaker.New(o.Breaker("closed-one")...))
	o.Watch("api", loadshed.New(loadshed.WithFixedLimit(8)))
	o.Watch("db", bulkhead.New(4))
	o.Watch("payments", retry.New(o.Retry("payments")...))
	o.WatchBudget("payments", retry.NewBudget())
	return o
}

func get(t *testing.T, url, accept string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

func TestStatusJSON(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(statusObserver(t).Handler())
	defer srv.Close()
	for _, tt := range []struct{ query, accept string }{{"?format=json", ""}, {"", "application/json"}} {
		resp, body := get(t, srv.URL+"/"+tt.query, tt.accept)
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Fatalf("Content-Type = %q, want application/json", ct)
		}
		var s struct {
			Policies    []observe.State
			Recent      []map[string]any
			Transitions []map[string]any
		}
		if err := json.Unmarshal([]byte(body), &s); err != nil {
			t.Fatalf("decode %s: %v", body, err)
		}
		if len(s.Policies) != 6 {
			t.Errorf("%d policies, want 6", len(s.Policies))
		}
		found := false
		for _, p := range s.Policies {
			if p.Kind == observe.KindBreaker && p.Name == "payments" {
				found = p.Breaker != nil && p.Breaker.State == "open"
			}
		}
		if !found {
			t.Errorf("no open breaker payments in %s", body)
		}
		if len(s.Transitions) != 1 || s.Transitions[0]["to"] != "open" || s.Transitions[0]["policy.name"] != "payments" {
			t.Errorf("transitions = %v, want payments closed -> open", s.Transitions)
		}
		last := s.Recent[len(s.Recent)-1]
		if last["event"] != "refusal" || last["request_id"] != "req-7" || last["error"] != "breaker: circuit open" {
			t.Errorf("last recent event = %v, want the refusal of req-7", last)
		}
	}
}

func TestStatusHTML(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(statusObserver(t).Handler())
	defer srv.Close()
	resp, body := get(t, srv.URL+"/", "text/html")
	if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	for _, want := range []string{
		`<tr data-kind="breaker" data-name="payments" data-state="open">`,
		`<tr data-kind="breaker" data-name="closed-one" data-state="closed">`,
		`id="open-breakers">1 open breaker<`,
		`data-kind="limiter" data-name="api"`, `data-kind="bulkhead" data-name="db"`,
		`data-kind="retry" data-name="payments"`, `data-kind="budget" data-name="payments"`,
		`<td>req-7</td>`, "<script>", `<table id="transitions">`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	for _, bad := range []string{"src=\"http", "href=\"http", "@import", "url("} {
		if strings.Contains(body, bad) {
			t.Errorf("page refers to an external resource: %s", bad)
		}
	}
	_, frag := get(t, srv.URL+"/?fragment=1", "")
	if strings.Contains(frag, "<html") || !strings.Contains(frag, `data-state="open"`) {
		t.Errorf("fragment is not the main part of the page: %.200s", frag)
	}
	resp, err := http.Post(srv.URL+"/", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST = %d, want 405", resp.StatusCode)
	}
}
