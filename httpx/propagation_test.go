package httpx

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/loadshed"
	"github.com/callguard/callguard/timeout"
	"github.com/callguard/callguard/ttl"
)

// A recordingTransport answers 200 to every request and keeps the header of
// the last one.
type recordingTransport struct {
	n      int
	header http.Header
}

func (rt *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	rt.n++
	rt.header = req.Header
	return &http.Response{StatusCode: 200, Body: http.NoBody, Request: req}, nil
}

// served returns ctx as the handler of a service with id self sees it after
// its TTL policy ran, for a request that arrived with hops and path.
func served(t *testing.T, ctx context.Context, self, hops, path string) context.Context {
	t.Helper()
	ctx = ttl.Inbound(ctx, hops, path)
	if err := ttl.New(ttl.WithService(self)).Do(ctx, func(c context.Context) error { ctx = c; return nil }); err != nil {
		t.Fatalf("TTL.Do() = %v", err)
	}
	return ctx
}

func TestTransportPropagation(t *testing.T) {
	bg := context.Background()
	tests := []struct {
		name       string
		ctx        func(t *testing.T) context.Context
		giveHeader http.Header // the caller's
		opts       []TransportOption
		want       http.Header // "" values: absent
	}{
		{"no state: nothing sent", func(*testing.T) context.Context { return bg }, nil, nil,
			http.Header{"Callguard-Hops": {""}, "Callguard-Path": {""}, "Callguard-Timeout": {""}, "X-Request-Id": {""}}},
		{"budget", func(*testing.T) context.Context { return ttl.NewContext(bg, 3) }, nil, nil,
			http.Header{"Callguard-Hops": {"2"}, "Callguard-Path": {""}}},
		{"inbound path", func(t *testing.T) context.Context { return served(t, bg, "billing", "12", "gateway,orders") }, nil, nil,
			http.Header{"Callguard-Hops": {"11"}, "Callguard-Path": {"gateway,orders,billing"}}},
		{"request id", func(*testing.T) context.Context { return callguard.ContextWithRequestID(bg, "r-1") }, nil, nil,
			http.Header{"X-Request-Id": {"r-1"}}},
		{"caller's request id kept", func(*testing.T) context.Context { return bg }, http.Header{"X-Request-Id": {"mine"}}, nil,
			http.Header{"X-Request-Id": {"mine"}}},
		{"priority", func(*testing.T) context.Context { return loadshed.NewContext(bg, loadshed.Critical) }, nil, nil,
			http.Header{"Callguard-Priority": {"critical"}}},
		{"default priority not sent", func(*testing.T) context.Context { return bg }, nil, nil,
			http.Header{"Callguard-Priority": {""}}},
		{"caller's priority header kept", func(*testing.T) context.Context { return bg },
			http.Header{"Callguard-Priority": {"critical"}}, nil, http.Header{"Callguard-Priority": {"critical"}}},
		{"caller's priority header replaced by the context's", func(*testing.T) context.Context { return loadshed.NewContext(bg, loadshed.Sheddable) },
			http.Header{"Callguard-Priority": {"critical"}}, nil, http.Header{"Callguard-Priority": {"sheddable"}}},
		{"caller's invalid priority header dropped", func(*testing.T) context.Context { return bg },
			http.Header{"Callguard-Priority": {"urgent!!"}}, nil, http.Header{"Callguard-Priority": {""}}},
		{"context's request id wins", func(*testing.T) context.Context { return callguard.ContextWithRequestID(bg, "ctx") },
			http.Header{"X-Request-Id": {"mine"}}, nil, http.Header{"X-Request-Id": {"ctx"}}},
		{"caller's callguard headers replaced", func(*testing.T) context.Context { return bg },
			http.Header{"Callguard-Hops": {"200"}, "Callguard-Path": {"evil"}, "Callguard-Timeout": {"99H"}, "Accept": {"a/b"}}, nil,
			http.Header{"Callguard-Hops": {""}, "Callguard-Path": {""}, "Callguard-Timeout": {""}, "Accept": {"a/b"}}},
		{"propagation off", func(t *testing.T) context.Context {
			return callguard.ContextWithRequestID(served(t, bg, "billing", "0", "gateway"), "r-1")
		}, http.Header{"Callguard-Hops": {"7"}}, []TransportOption{WithPropagation(false)},
			http.Header{"Callguard-Hops": {"7"}, "Callguard-Path": {""}, "X-Request-Id": {""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recordingTransport{}
			req := httptest.NewRequestWithContext(tt.ctx(t), http.MethodGet, "http://127.0.0.1/", nil)
			req.Header = tt.giveHeader.Clone()
			if req.Header == nil {
				req.Header = http.Header{}
			}
			resp, err := NewTransport(rec, nil, tt.opts...).RoundTrip(req)
			if err != nil {
				t.Fatalf("RoundTrip() error = %v", err)
			}
			resp.Body.Close()
			for k, v := range tt.want {
				if got := rec.header.Get(k); got != v[0] {
					t.Errorf("sent %s = %q, want %q", k, got, v[0])
				}
			}
			if want := tt.giveHeader; !reflect.DeepEqual(req.Header, want) && !(len(want) == 0 && len(req.Header) == 0) {
				t.Errorf("caller's header changed to %v, want %v", req.Header, want)
			}
		})
	}
}

// A leftContext has d left whenever it is asked, however slowly the test
// runs (a real deadline passes under -race while RoundTrip starts).
type leftContext struct {
	context.Context
	d time.Duration
}

func (c leftContext) Deadline() (time.Time, bool) { return time.Now().Add(c.d), true }

// TestTransportDeadline checks that the transport sends the whole time
// left: the margin is the server's ([WithDeadlineMargin]), as in grpcx.
func TestTransportDeadline(t *testing.T) {
	for _, give := range []time.Duration{time.Minute, time.Millisecond} {
		rec := &recordingTransport{}
		ctx := leftContext{context.Background(), give}
		req := httptest.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1/", nil)
		if _, err := NewTransport(rec, nil).RoundTrip(req); err != nil {
			t.Fatalf("RoundTrip() error = %v", err)
		}
		got, err := timeout.ParseWire(rec.header.Get(timeout.Header))
		if err != nil || got <= give-DefaultDeadlineMargin/5 || got > give {
			t.Errorf("Callguard-Timeout = %q (%v, %v), want about %v", rec.header.Get(timeout.Header), got, err, give)
		}
	}
}

// TestTransportRefusesBeforeSending checks that an attempt with no hops or
// no time left is never sent, and never retried.
func TestTransportRefusesBeforeSending(t *testing.T) {
	short := leftContext{context.Background(), 0} // its deadline passes as it is read
	tests := []struct {
		name    string
		ctx     context.Context
		wantErr []error
	}{
		{"no hops", ttl.NewContext(context.Background(), 0), []error{ttl.ErrExhausted}},
		{"no time", short, []error{ErrNoTimeLeft, context.DeadlineExceeded}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recordingTransport{}
			body := &closeBody{Reader: strings.NewReader("x")}
			req := httptest.NewRequestWithContext(tt.ctx, http.MethodPost, "http://127.0.0.1/", body)
			_, err := NewTransport(rec, fastRetry(3)).RoundTrip(req)
			if !body.closed.Load() {
				t.Error("request body not closed")
			}
			for _, want := range tt.wantErr {
				if !errors.Is(err, want) {
					t.Errorf("RoundTrip() error = %v, want %v", err, want)
				}
			}
			if !callguard.IsPermanent(err) || rec.n != 0 {
				t.Errorf("RoundTrip() error %v permanent: %v, sent %d times; want permanent, never sent", err, callguard.IsPermanent(err), rec.n)
			}
		})
	}
}

// inbound runs a request with header kv (pairs) through Handler with opts
// and policy p, and returns the response and the context that the handler
// got (nil if it did not run).
func inbound(t *testing.T, p callguard.Policy, opts []HandlerOption, kv ...string) (*httptest.ResponseRecorder, context.Context) {
	t.Helper()
	var got context.Context
	h := Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.Context() }), p, opts...)
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	for i := 0; i+1 < len(kv); i += 2 {
		req.Header.Add(kv[i], kv[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec, got
}

// timeLeft returns how long ctx has until its deadline, or -1 if none.
func timeLeft(ctx context.Context) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		return time.Until(dl)
	}
	return -1
}

func TestHandlerInbound(t *testing.T) {
	rec, ctx := inbound(t, nil, nil, "Callguard-Hops", "9", "Callguard-Path", "gateway", "Callguard-Path", " orders")
	if hops, ok := ttl.FromContext(ctx); rec.Code != 200 || hops != 9 || !ok {
		t.Errorf("handler got hops %v, %v (status %d), want 9", hops, ok, rec.Code)
	}
	if got := ttl.PathFromContext(ctx); !reflect.DeepEqual(got, []string{"gateway", "orders"}) {
		t.Errorf("handler got path %q, want [gateway orders]", got)
	}
	if _, ctx := inbound(t, nil, nil, "Callguard-Hops", "x", "Callguard-Path", "a b"); ctx == nil || ttl.PathFromContext(ctx) != nil {
		t.Errorf("malformed headers: handler ran %v with path %q, want it to run with none", ctx != nil, ttl.PathFromContext(ctx))
	}
	if _, ctx := inbound(t, ttl.New(ttl.WithDefaultHops(3)), nil); ctx == nil || ttl.PathFromContext(ctx) != nil {
		t.Errorf("no headers: handler ran %v with path %q, want it to run with none", ctx != nil, ttl.PathFromContext(ctx))
	} else if hops, _ := ttl.FromContext(ctx); hops != 3 {
		t.Errorf("no headers: handler got hops %d, want the server's default 3", hops)
	}
}

func TestHandlerPriority(t *testing.T) {
	tests := []struct {
		name string
		opts []HandlerOption
		give string
		want loadshed.Priority
	}{
		{"critical", nil, "critical", loadshed.Critical},
		{"sheddable", nil, "Sheddable", loadshed.Sheddable},
		{"absent", nil, "", loadshed.Default},
		{"malformed", nil, "urgent!!", loadshed.Default},
		{"edge ignores the claim", []HandlerOption{Edge()}, "critical", loadshed.Default},
		{"edge's WithPriority reads it", []HandlerOption{Edge(), WithPriority(func(r *http.Request) loadshed.Priority {
			p, _ := loadshed.ParsePriority(r.Header.Get(loadshed.PriorityHeader))
			return p
		})}, "critical", loadshed.Critical},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var kv []string
			if tt.give != "" {
				kv = []string{"Callguard-Priority", tt.give}
			}
			_, ctx := inbound(t, nil, tt.opts, kv...)
			if ctx == nil {
				t.Fatal("handler did not run")
			}
			if got := loadshed.FromContext(ctx); got != tt.want {
				t.Errorf("handler got priority %v, want %v", got, tt.want)
			}
		})
	}
}

func TestHandlerDeadline(t *testing.T) {
	tests := []struct {
		name    string
		opts    []HandlerOption
		give    string        // Callguard-Timeout, if not ""
		wantMax time.Duration // the most the handler may get; -1: no deadline
	}{
		{"none", nil, "", -1},
		{"from header", nil, "2S", 2 * time.Second},
		{"header less margin", []HandlerOption{WithDeadlineMargin(time.Second)}, "2S", time.Second},
		{"header under max less margin", []HandlerOption{WithDeadlineMargin(time.Second), WithMaxDeadline(time.Hour)}, "2S", time.Second},
		{"malformed", nil, "2s", -1},
		{"max", []HandlerOption{WithMaxDeadline(time.Second)}, "", time.Second},
		{"header under max", []HandlerOption{WithMaxDeadline(time.Hour)}, "2S", 2 * time.Second},
		{"header over max", []HandlerOption{WithMaxDeadline(time.Second)}, "99999999H", time.Second},
		{"edge without max", []HandlerOption{Edge()}, "2S", -1},
		{"edge with max", []HandlerOption{Edge(), WithMaxDeadline(time.Second)}, "99999999H", time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var kv []string
			if tt.give != "" {
				kv = []string{timeout.Header, tt.give}
			}
			rec, ctx := inbound(t, nil, tt.opts, kv...)
			if rec.Code != 200 || ctx == nil {
				t.Fatalf("status %d, handler ran: %v; want 200 and a run", rec.Code, ctx != nil)
			}
			left := timeLeft(ctx)
			if tt.wantMax < 0 && left >= 0 || tt.wantMax >= 0 && (left < 0 || left > tt.wantMax) {
				t.Errorf("handler's deadline in %v, want at most %v (-1: none)", left, tt.wantMax)
			}
		})
	}
}

func TestHandlerMinServiceTime(t *testing.T) {
	tests := []struct {
		name     string
		opts     []HandlerOption
		give     string // Callguard-Timeout
		wantCode int
	}{
		{"enough time", []HandlerOption{WithMinServiceTime(60 * time.Millisecond)}, "1S", 200},
		{"too little time", []HandlerOption{WithMinServiceTime(60 * time.Millisecond)}, "10m", 504},
		{"max deadline too short", []HandlerOption{WithMinServiceTime(time.Second), WithMaxDeadline(time.Millisecond)}, "", 504},
		{"no time at all", nil, "0n", 504},
		{"default margin takes it all", nil, "4m", 504},
		{"margin takes it all", []HandlerOption{WithDeadlineMargin(time.Second)}, "1S", 504},
		{"no margin", []HandlerOption{WithDeadlineMargin(0)}, "50m", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var policyRuns int
			p := callguard.PolicyFunc(func(next callguard.Handler) callguard.Handler {
				return func(ctx context.Context, call func(context.Context) error) error {
					policyRuns++
					return next(ctx, call)
				}
			})
			var kv []string
			if tt.give != "" {
				kv = []string{timeout.Header, tt.give}
			}
			rec, ctx := inbound(t, p, tt.opts, kv...)
			wantRuns := 0
			if tt.wantCode == 200 {
				wantRuns = 1
			}
			if rec.Code != tt.wantCode || (ctx != nil) != (wantRuns == 1) || policyRuns != wantRuns {
				t.Errorf("status %d, handler ran %v, policy ran %d times; want %d and %d runs", rec.Code, ctx != nil, policyRuns, tt.wantCode, wantRuns)
			}
		})
	}
}

func TestHandlerRequestID(t *testing.T) {
	long := strings.Repeat("x", callguard.MaxRequestIDLen+1)
	tests := []struct {
		name string
		opts []HandlerOption
		give string // X-Request-Id, if not ""
		want string // "*": a new id
	}{
		{"none", nil, "", ""},
		{"inbound", nil, "req-42", "req-42"},
		{"inbound kept", []HandlerOption{WithRequestIDs()}, "req-42", "req-42"},
		{"created", []HandlerOption{WithRequestIDs()}, "", "*"},
		{"too long", nil, long, ""},
		{"longest", nil, long[1:], long[1:]},
		{"control char", nil, "a\x01b", ""},
		{"too long, created", []HandlerOption{WithRequestIDs()}, long, "*"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var kv []string
			if tt.give != "" {
				kv = []string{"X-Request-Id", tt.give}
			}
			rec, ctx := inbound(t, nil, tt.opts, kv...)
			got, echoed := callguard.RequestIDFromContext(ctx), rec.Header().Get("X-Request-Id")
			if tt.want == "*" {
				if !callguard.ValidRequestID(got) || len(got) != 16 || strings.Trim(got, "0123456789abcdef") != "" {
					t.Errorf("created id %q, want 16 hex digits", got)
				}
			} else if got != tt.want {
				t.Errorf("handler got id %q, want %q", got, tt.want)
			}
			if echoed != got {
				t.Errorf("response X-Request-Id = %q, want %q", echoed, got)
			}
		})
	}
	if a, b := callguard.NewRequestID(), callguard.NewRequestID(); a == b {
		t.Errorf("NewRequestID() twice = %q", a)
	}
}

func TestHandlerLoopAnswer(t *testing.T) {
	rec, ctx := inbound(t, ttl.New(ttl.WithService("orders")), nil,
		"Callguard-Hops", "12", "Callguard-Path", "gateway,orders,billing")
	if ctx != nil || rec.Code != 508 || rec.Header().Get("Callguard-Error") != "loop" ||
		rec.Header().Get("Callguard-Path") != "gateway,orders,billing,orders" {
		t.Errorf("loop: handler ran %v, answer %d, Callguard-Error %q, Callguard-Path %q; want no run, 508 loop gateway,orders,billing,orders",
			ctx != nil, rec.Code, rec.Header().Get("Callguard-Error"), rec.Header().Get("Callguard-Path"))
	}
}

// TestLoopErrorRoundTrip sends a 508 answer through the client's
// classification and back out through Error: the path survives.
func TestLoopErrorRoundTrip(t *testing.T) {
	h := http.Header{}
	h.Set("Callguard-Error", "loop")
	h.Set("Callguard-Path", "a,b,c,a")
	err := ResponseError(&http.Response{StatusCode: 508, Header: h})
	var le *ttl.LoopError
	if !errors.As(err, &le) || !reflect.DeepEqual(le.Path, []string{"a", "b", "c", "a"}) || !callguard.IsPermanent(err) ||
		!errors.Is(err, ttl.ErrLoop) {
		t.Fatalf("ResponseError(508 loop) = %v, want a permanent *ttl.LoopError with path a,b,c,a", err)
	}
	const want = "httpx: response status 508 Loop Detected (loop): a → b → c → a"
	if err.Error() != want {
		t.Errorf("ResponseError(508 loop) = %q, want %q", err, want)
	}
	rec := httptest.NewRecorder()
	Error(rec, err)
	if rec.Code != 508 || rec.Header().Get("Callguard-Error") != "loop" || rec.Header().Get("Callguard-Path") != "a,b,c,a" {
		t.Errorf("Error(loop) = %d, %v; want 508 loop a,b,c,a", rec.Code, rec.Header())
	}

	h.Set("Callguard-Error", "hops")
	err = ResponseError(&http.Response{StatusCode: 508, Header: h})
	if !errors.Is(err, ttl.ErrExhausted) || !callguard.IsPermanent(err) {
		t.Errorf("ResponseError(508 hops) = %v, want permanent ttl.ErrExhausted", err)
	}
	if err := ResponseError(&http.Response{StatusCode: 200}); err != nil {
		t.Errorf("ResponseError(200) = %v, want nil", err)
	}

	rec = httptest.NewRecorder()
	Error(rec, ResponseError(&http.Response{StatusCode: 504}))
	if rec.Code != 504 {
		t.Errorf("Error(a 504 answer) = %d, want 504", rec.Code)
	}
	rec = httptest.NewRecorder()
	Error(rec, ErrNoTimeLeft)
	if rec.Code != 504 {
		t.Errorf("Error(ErrNoTimeLeft) = %d, want 504", rec.Code)
	}
}

func TestHandlerPanics(t *testing.T) {
	for _, tt := range []struct {
		give HandlerOption
		want string
	}{
		{WithMaxDeadline(-1), "httpx: max deadline must be >= 0, got -1ns"},
		{WithMinServiceTime(-1), "httpx: min service time must be >= 0, got -1ns"},
		{WithDeadlineMargin(-1), "httpx: deadline margin must be >= 0, got -1ns"},
	} {
		func() {
			defer func() {
				if r := recover(); r != tt.want {
					t.Errorf("panic = %v, want %q", r, tt.want)
				}
			}()
			Handler(nil, nil, tt.give)
		}()
	}
}

// FuzzHandlerInbound sends arbitrary callguard headers to an edge Handler
// and a trusting one: never a panic, and the edge never grants more than
// its max deadline nor takes a hop budget or path from the client.
func FuzzHandlerInbound(f *testing.F) {
	f.Add("255", "a,b,edge", "99999999H", "id-1")
	f.Add("", "", "0n", "")
	f.Add("-1", ",,", "1", "\x00")
	var ctx context.Context // the handler's, of the last request
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { ctx = r.Context() })
	edge := Handler(next, ttl.New(ttl.WithService("edge"), ttl.WithDefaultHops(4)), Edge(), WithMaxDeadline(time.Second))
	trusting := Handler(next, ttl.New(ttl.WithService("edge")), WithMinServiceTime(time.Millisecond))
	f.Fuzz(func(t *testing.T, hops, path, deadline, id string) {
		for _, h := range []http.Handler{edge, trusting} {
			ctx = nil
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.Header = http.Header{"Callguard-Hops": {hops}, "Callguard-Path": {path}, "Callguard-Timeout": {deadline}, "X-Request-Id": {id}}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if got := rec.Header().Get("X-Request-Id"); got != "" && got != id {
				t.Errorf("response X-Request-Id = %q, want %q or none", got, id)
			}
			if h != edge || ctx == nil {
				continue
			}
			if n, _ := ttl.FromContext(ctx); n != 4 || ttl.PathFromContext(ctx) != nil || timeLeft(ctx) > time.Second {
				t.Errorf("edge: hops %d, path %q, deadline in %v; want 4, none, <= 1s", n, ttl.PathFromContext(ctx), timeLeft(ctx))
			}
		}
	})
}

// TestCallerPriority: a priority that the caller sets as a header reaches
// a trusted server through NewTransport; the context's wins over it.
func TestCallerPriority(t *testing.T) {
	var got loadshed.Priority
	ts := newServer(t, Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = loadshed.FromContext(r.Context())
	}), nil).ServeHTTP)
	c := newClient(ts, nil)
	tests := []struct {
		name   string
		header string
		ctx    loadshed.Priority
		want   loadshed.Priority
	}{
		{"header", "critical", loadshed.Default, loadshed.Critical},
		{"context wins", "critical", loadshed.Sheddable, loadshed.Sheddable},
		{"invalid header", "urgent!!", loadshed.Default, loadshed.Default},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			if tt.ctx != loadshed.Default {
				ctx = loadshed.NewContext(ctx, tt.ctx)
			}
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL, nil)
			req.Header.Set("Callguard-Priority", tt.header)
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got != tt.want {
				t.Errorf("server saw priority %v, want %v", got, tt.want)
			}
		})
	}
}

// TestEdgeDropsClaims: a handler at an Edge server that copies its
// request's headers onto an outgoing call passes no client's claim on to
// the trusted server behind it, through NewTransport or any other client.
func TestEdgeDropsClaims(t *testing.T) {
	var got loadshed.Priority
	var gotHeader http.Header
	inner := newServer(t, Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, gotHeader = loadshed.FromContext(r.Context()), r.Header.Clone()
	}), nil).ServeHTTP)
	for _, tt := range []struct {
		name   string
		client *http.Client
		unsent []string // headers that must not reach the inner server
	}{
		// NewTransport sends hops and a path of its own.
		{"NewTransport", newClient(inner, nil), []string{"Callguard-Priority", "Callguard-Timeout"}},
		{"plain client", inner.Client(), []string{"Callguard-Priority", "Callguard-Hops", "Callguard-Path", "Callguard-Timeout"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			edge := newServer(t, Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				out, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, inner.URL, nil)
				out.Header = r.Header.Clone()
				resp, err := tt.client.Do(out)
				if err != nil {
					Error(w, err)
					return
				}
				resp.Body.Close()
			}), nil, Edge()).ServeHTTP)

			req, _ := http.NewRequest(http.MethodGet, edge.URL, nil)
			for _, kv := range [][2]string{{"Callguard-Priority", "critical"}, {"Callguard-Hops", "200"}, {"Callguard-Path", "a"}, {"Callguard-Timeout", "1H"}} {
				req.Header.Set(kv[0], kv[1])
			}
			resp, err := edge.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("status = %d, want 200", resp.StatusCode)
			}
			if got != loadshed.Default {
				t.Errorf("inner server saw priority %v, want the default", got)
			}
			for _, k := range tt.unsent {
				if v := gotHeader.Get(k); v != "" {
					t.Errorf("inner server got %s: %q, want no client's claim", k, v)
				}
			}
		})
	}
}

// TestHandlerNoTimeLeft: a request whose Callguard-Timeout has run out by
// the time it is read, 0n or 1n, is refused before the handler, with the
// "don't retry" pushback.
func TestHandlerNoTimeLeft(t *testing.T) {
	var runs int
	ts := newServer(t, Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { runs++ }), nil).ServeHTTP)
	for _, give := range []string{"0n", "1n"} {
		req, _ := http.NewRequest(http.MethodGet, ts.URL, nil)
		req.Header.Set(timeout.Header, give)
		resp, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusGatewayTimeout || resp.Header.Get("Callguard-Pushback") != "-1" || runs != 0 {
			t.Errorf("Callguard-Timeout %s: %d with pushback %q, handler ran %d times; want 504, -1, 0",
				give, resp.StatusCode, resp.Header.Get("Callguard-Pushback"), runs)
		}
	}
}

// TestHandlerFirstRequestID: of several X-Request-Id headers, the first
// counts, as in grpcx.
func TestHandlerFirstRequestID(t *testing.T) {
	var got string
	ts := newServer(t, Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = callguard.RequestIDFromContext(r.Context())
	}), nil).ServeHTTP)
	req, _ := http.NewRequest(http.MethodGet, ts.URL, nil)
	req.Header["X-Request-Id"] = []string{"first", "second"}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got != "first" || resp.Header.Get("X-Request-Id") != "first" {
		t.Errorf("handler got id %q, response echoed %q; want %q", got, resp.Header.Get("X-Request-Id"), "first")
	}
}
