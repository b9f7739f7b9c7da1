package observe

import (
	"bytes"
	"encoding/json"
	"html/template"
	"net/http"
	"strings"
	"time"
)

// MarshalJSON writes the event with its error as a string and its delay in
// seconds, under the keys of the log records.
func (e Event) MarshalJSON() ([]byte, error) {
	v := struct {
		Time      time.Time `json:"time"`
		Kind      Kind      `json:"policy.kind"`
		Name      string    `json:"policy.name"`
		Type      EventType `json:"event"`
		Reason    string    `json:"reason,omitempty"`
		From      string    `json:"from,omitempty"`
		To        string    `json:"to,omitempty"`
		Attempt   int       `json:"attempt,omitempty"`
		Delay     float64   `json:"delay,omitempty"`
		Priority  string    `json:"priority,omitempty"`
		RequestID string    `json:"request_id,omitempty"`
		Err       string    `json:"error,omitempty"`
	}{e.Time, e.Kind, e.Name, e.Type, e.Reason, e.From, e.To, e.Attempt, e.Delay.Seconds(), e.Priority, e.RequestID, ""}
	if e.Err != nil {
		v.Err = e.Err.Error()
	}
	return json.Marshal(v)
}

// Handler returns the status page: an http.Handler that serves the
// Observer's [Snapshot] as JSON (with ?format=json, or a request that
// accepts application/json and not text/html) and otherwise as a small
// self-contained HTML page (no external scripts, styles or fonts) that
// refreshes itself every 2 seconds.
//
// The page shows policy names, error messages and request ids: mount it on
// an admin port or behind authentication, never facing the internet, as
// for net/http/pprof.
func (o *Observer) Handler() http.Handler { return statusHandler{o} }

type statusHandler struct{ o *Observer }

func (h statusHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	s := h.o.Snapshot()
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	q := r.URL.Query()
	if q.Get("format") == "json" || wantsJSON(r.Header.Get("Accept")) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(s)
		return
	}
	name := "page"
	if q.Get("fragment") == "1" {
		name = "main"
	}
	var buf bytes.Buffer
	if err := statusPage.ExecuteTemplate(&buf, name, newView(s)); err != nil {
		http.Error(w, "observe: status page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'; img-src data:")
	_, _ = w.Write(buf.Bytes())
}

func wantsJSON(accept string) bool {
	return strings.Contains(accept, "application/json") && !strings.Contains(accept, "text/html")
}

// view sorts a snapshot into the sections of the page.
type view struct {
	Time                time.Time
	Breakers, Retries   []State
	Budgets, Bulkheads  []State
	Limiters, Others    []State
	Hedges              []State
	Probes              []State
	Recent, Transitions []Event
	OpenBreakers        int
	TotalRefusals       uint64
}

func newView(s Snapshot) view {
	v := view{Time: s.Time}
	v.Recent, v.Transitions = newestFirst(s.Recent), newestFirst(s.Transitions)
	for _, st := range s.Policies {
		for _, n := range st.Refusals {
			v.TotalRefusals += n
		}
		switch {
		case st.Breaker != nil:
			if st.Breaker.State == "open" || st.Breaker.State == "forced-open" {
				v.OpenBreakers++
			}
			v.Breakers = append(v.Breakers, st)
		case st.Retry != nil:
			v.Retries = append(v.Retries, st)
		case st.Hedge != nil:
			v.Hedges = append(v.Hedges, st)
		case st.Probe != nil:
			v.Probes = append(v.Probes, st)
		case st.Budget != nil:
			v.Budgets = append(v.Budgets, st)
		case st.Bulkhead != nil:
			v.Bulkheads = append(v.Bulkheads, st)
		case st.Limiter != nil:
			v.Limiters = append(v.Limiters, st)
		default:
			v.Others = append(v.Others, st)
		}
	}
	return v
}

func newestFirst(es []Event) []Event {
	out := make([]Event, 0, len(es))
	for i := len(es) - 1; i >= 0; i-- {
		out = append(out, es[i])
	}
	return out
}

// Render helpers: durations rounded for people.
func (v view) Ago(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return round(v.Time.Sub(t)).String() + " ago"
}

func (v view) In(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := t.Sub(v.Time)
	if d < 0 {
		return "now"
	}
	return "in " + round(d).String()
}

func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Minute:
		return d.Round(time.Second)
	case d >= time.Second:
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Millisecond)
}

var statusPage = template.Must(template.New("page").Funcs(template.FuncMap{
	"pct": func(a, b float64) float64 {
		if b <= 0 {
			return 0
		}
		return 100 * a / b
	},
	"usage": func(n, limit int) int {
		if limit <= 0 {
			return 0
		}
		return min(100, 100*n/limit)
	},
	"clock": func(t time.Time) string { return t.UTC().Format("15:04:05.000") },
	"sec":   func(d time.Duration) string { return round(d).String() },
}).Parse(pageHTML))
