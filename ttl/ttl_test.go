package ttl

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/internal/race"
)

var _ callguard.Policy = (*TTL)(nil)

func ok(context.Context) error { return nil }

func TestParseHops(t *testing.T) {
	tests := []struct {
		give    string
		want    int
		wantErr bool
	}{
		{"0", 0, false},
		{"16", 16, false},
		{" 7 ", 7, false},
		{"255", 255, false},
		{"256", 255, false},
		{"99999999999999999999999", 255, false},
		{"", 0, true},
		{"-1", 0, true},
		{"+3", 0, true},
		{"1.0", 0, true},
		{"0x10", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseHops(tt.give)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("ParseHops(%q) = %v, %v, want %v, err %v", tt.give, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestFormatHops(t *testing.T) {
	for give, want := range map[int]string{-3: "0", 0: "0", 15: "15", 255: "255", 1000: "255"} {
		if got := FormatHops(give); got != want {
			t.Errorf("FormatHops(%d) = %q, want %q", give, got, want)
		}
	}
}

func TestParsePath(t *testing.T) {
	long := strings.Repeat("svc,", 100) + "last"
	tests := []struct {
		give    string
		want    []string
		wantErr bool
	}{
		{"", nil, false},
		{"orders", []string{"orders"}, false},
		{"gateway,orders", []string{"gateway", "orders"}, false},
		{"gateway, orders ,billing", []string{"gateway", "orders", "billing"}, false},
		{"a,,b", nil, true},
		{"a,", nil, true},
		{",a", nil, true},
		{"a b", nil, true},
		{"a,<script>", nil, true},
		{strings.Repeat("x", 33), nil, true},
	}
	for _, tt := range tests {
		got, err := ParsePath(tt.give)
		if fmt.Sprint(got) != fmt.Sprint(tt.want) || (err != nil) != tt.wantErr {
			t.Errorf("ParsePath(%q) = %q, %v, want %q, err %v", tt.give, got, err, tt.want, tt.wantErr)
		}
	}
	got, err := ParsePath(long)
	if err != nil || len(got) != MaxPathEntries || got[len(got)-1] != "last" {
		t.Errorf("ParsePath(101 ids) = %d ids ending %q, %v; want the last %d", len(got), got[len(got)-1], err, MaxPathEntries)
	}
}

// TestParsePathLongValue checks that a value too long to read whole is
// invalid as a whole, as is one with an invalid id far from its end.
func TestParsePathLongValue(t *testing.T) {
	tail := strings.Repeat("abc,", maxPathValue/4) + "z"
	tests := []struct {
		name string
		give string
	}{
		{"invalid id far from the end", "bad id!," + tail},
		{"valid ids, too long", "a," + tail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := ParsePath(tt.give); err == nil {
				t.Errorf("ParsePath(%d bytes) = %d ids, nil; want an error", len(tt.give), len(got))
			}
			if got := PathFromContext(Inbound(context.Background(), "3", tt.give)); got != nil {
				t.Errorf("PathFromContext(Inbound(…)) = %d ids, want none", len(got))
			}
		})
	}
	if got, err := ParsePath(tail[len(tail)-maxPathValue:]); err != nil || len(got) != MaxPathEntries {
		t.Errorf("ParsePath(%d bytes) = %d ids, %v; want %d", maxPathValue, len(got), err, MaxPathEntries)
	}
}

func TestFormatPath(t *testing.T) {
	tests := []struct {
		give []string
		want string
	}{
		{nil, ""},
		{[]string{"a"}, "a"},
		{[]string{"a", "bad id", "c"}, "a,c"},
	}
	for _, tt := range tests {
		if got := FormatPath(tt.give); got != tt.want {
			t.Errorf("FormatPath(%q) = %q, want %q", tt.give, got, tt.want)
		}
	}
	ids := make([]string, 100)
	for i := range ids {
		ids[i] = fmt.Sprintf("s%d", i)
	}
	got := strings.Split(FormatPath(ids), ",")
	if len(got) != MaxPathEntries || got[len(got)-1] != "s99" {
		t.Errorf("FormatPath(100 ids) kept %d ending %q, want %d ending s99", len(got), got[len(got)-1], MaxPathEntries)
	}
}

func FuzzParseHops(f *testing.F) {
	for _, s := range []string{"0", "16", "255", "256", "-1", "", " 3", "1e9", "99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseHops(s)
		if n < 0 || n > MaxHops {
			t.Fatalf("ParseHops(%q) = %d, outside [0, %d]", s, n, MaxHops)
		}
		if err == nil {
			if m, err := ParseHops(FormatHops(n)); err != nil || m != n {
				t.Fatalf("round trip of %d = %d, %v", n, m, err)
			}
		}
	})
}

func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"", "a", "a,b", "a, b", "a\t,b", "a\r,b", "a,\nb", strings.Repeat("abc,", 500) + "z", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ids, err := ParsePath(s)
		if err != nil {
			return
		}
		if len(ids) > MaxPathEntries || len(strings.Join(ids, ",")) > MaxPathBytes {
			t.Fatalf("ParsePath(%q) kept %d ids, %d bytes: over the bounds", s, len(ids), len(strings.Join(ids, ",")))
		}
		for _, id := range ids {
			if !ValidService(id) {
				t.Fatalf("ParsePath(%q) returned invalid id %q", s, id)
			}
		}
		if got, err := ParsePath(FormatPath(ids)); err != nil || fmt.Sprint(got) != fmt.Sprint(ids) {
			t.Fatalf("round trip of %q = %q, %v", ids, got, err)
		}
		// Inbound never fails on the same input.
		_ = Inbound(context.Background(), s, s)
	})
}

func TestNewPanics(t *testing.T) {
	tests := []struct {
		name string
		give []Option
		want string
	}{
		{"bad id", []Option{WithService("a b")}, `ttl: invalid service id "a b"`},
		{"long id", []Option{WithService(strings.Repeat("x", 33))}, "ttl: invalid service id"},
		{"zero hops", []Option{WithDefaultHops(0)}, "ttl: default hops must be in [1, 255], got 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), tt.want) {
					t.Errorf("New panic = %v, want %q", r, tt.want)
				}
			}()
			New(tt.give...)
		})
	}
}

// serve mimics what an adapter does for an inbound request: read the wire
// values into the context, then run the server pipeline with ttl first.
func serve(service, hops, path string, handler func(ctx context.Context) error) error {
	ctx := Inbound(context.Background(), hops, path)
	return New(WithService(service)).Do(ctx, handler)
}

func TestLoopDetected(t *testing.T) {
	// orders receives a request that went gateway → orders → billing → ledger.
	ran := false
	err := serve("orders", "12", "gateway,orders,billing,ledger", func(context.Context) error {
		ran = true
		return nil
	})
	var le *LoopError
	if !errors.As(err, &le) || !errors.Is(err, ErrLoop) {
		t.Fatalf("Do = %v, want a *LoopError", err)
	}
	if ran {
		t.Error("handler ran for a looping request")
	}
	if want := "ttl: call loop: gateway → orders → billing → ledger → orders"; err.Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}
	if !callguard.IsPermanent(err) || callguard.Retryable(err) {
		t.Error("a loop must be permanent and not retryable")
	}
}

func TestPathPropagates(t *testing.T) {
	var hops, path string
	var err error
	serveErr := serve("billing", "9", "gateway,orders", func(ctx context.Context) error {
		hops, path, err = Outbound(ctx)
		return err
	})
	if serveErr != nil || hops != "8" || path != "gateway,orders,billing" {
		t.Errorf("Outbound in billing = %q, %q, %v; want 8, gateway,orders,billing", hops, path, serveErr)
	}
	// A service not in the path is no loop, whatever is around it.
	if err := serve("order", "9", "orders,orders2", ok); err != nil {
		t.Errorf("serve(order) = %v, want nil: ids match whole", err)
	}
}

func TestDefaults(t *testing.T) {
	tests := []struct {
		name     string
		ctx      context.Context
		policy   *TTL
		wantHops string
		wantPath string
	}{
		{"no state: nothing sent", context.Background(), nil, "", ""},
		{"inbound without headers", Inbound(context.Background(), "", ""), New(WithService("a")), "15", "a"},
		{"malformed headers ignored", Inbound(context.Background(), "x", "a,,b"), New(WithService("c")), "15", "c"},
		{"custom default", Inbound(context.Background(), "", ""), New(WithDefaultHops(4)), "3", ""},
		{"client policy sets self", context.Background(), New(WithService("job")), "15", "job"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hops, path string
			var err error
			f := func(ctx context.Context) error { hops, path, err = Outbound(ctx); return err }
			if tt.policy != nil {
				_ = tt.policy.Do(tt.ctx, f)
			} else {
				_ = f(tt.ctx)
			}
			if hops != tt.wantHops || path != tt.wantPath || err != nil {
				t.Errorf("Outbound = %q, %q, %v, want %q, %q", hops, path, err, tt.wantHops, tt.wantPath)
			}
		})
	}
}

func TestExhausted(t *testing.T) {
	// A chain of services, each one hop deeper, stops after the budget.
	const budget = 4
	ctx := NewContext(context.Background(), budget)
	depth := 0
	var call func(ctx context.Context) error
	call = func(ctx context.Context) error {
		hops, path, err := Outbound(ctx)
		if err != nil {
			return err
		}
		depth++
		next := Inbound(context.Background(), hops, path)
		return New(WithService(fmt.Sprintf("s%d", depth))).Do(next, call)
	}
	err := New().Do(ctx, call)
	if !errors.Is(err, ErrExhausted) || !callguard.IsPermanent(err) {
		t.Fatalf("chain = %v, want ErrExhausted (permanent)", err)
	}
	if depth != budget {
		t.Errorf("calls made = %d, want %d (the budget)", depth, budget)
	}
	// The client's guard refuses before running the call.
	ran := false
	err = NewGuard().Do(NewContext(context.Background(), 0), func(context.Context) error { ran = true; return nil })
	if !errors.Is(err, ErrExhausted) || ran {
		t.Errorf("Do with 0 hops = %v, ran %v; want ErrExhausted, not run", err, ran)
	}
}

func TestContextAccessors(t *testing.T) {
	if _, ok := FromContext(context.Background()); ok {
		t.Error("FromContext(Background) ok, want !ok")
	}
	ctx := NewContext(context.Background(), 300)
	if n, ok := FromContext(ctx); !ok || n != MaxHops {
		t.Errorf("FromContext = %d, %v, want %d, true", n, ok, MaxHops)
	}
	ctx = Inbound(context.Background(), "3", "a,b")
	if got := PathFromContext(ctx); fmt.Sprint(got) != "[a b]" {
		t.Errorf("PathFromContext = %q, want [a b]", got)
	}
}

func TestConcurrentUse(t *testing.T) {
	p := New(WithService("svc"))
	for i := range 8 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			for j := range 200 {
				ctx := Inbound(context.Background(), fmt.Sprint(j%20), "a,b")
				if err := p.Do(ctx, ok); err != nil {
					t.Fatalf("Do = %v", err)
				}
			}
		})
	}
}

func TestCheckAllocs(t *testing.T) {
	if testing.Short() || race.Enabled {
		t.Skip("allocation counts are not meaningful under -race or -short")
	}
	path := "gateway,orders,billing,ledger"
	if n := testing.AllocsPerRun(100, func() { _ = pathContains(path, "payments") }); n != 0 {
		t.Errorf("path check allocs = %v, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() { _ = FormatHops(15) }); n != 0 {
		t.Errorf("FormatHops allocs = %v, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = ParseHops("15") }); n != 0 {
		t.Errorf("ParseHops allocs = %v, want 0", n)
	}
	p, ctx := New(), context.Background()
	if n := testing.AllocsPerRun(100, func() { _ = p.Do(ctx, ok) }); n != 0 {
		t.Errorf("TTL.Do allocs = %v, want 0", n)
	}
	g, in := NewGuard(), Inbound(ctx, "3", "a")
	if n := testing.AllocsPerRun(100, func() { _ = g.Do(in, ok) }); n != 0 {
		t.Errorf("Guard.Do allocs = %v, want 0", n)
	}
}

// TestHopCheckAllocs guards the server side of a hop: the inbound state is
// one context node, which the check completes in place, and the outgoing
// path is joined once per request.
func TestHopCheckAllocs(t *testing.T) {
	if testing.Short() || race.Enabled {
		t.Skip("allocation counts are not meaningful under -race or -short")
	}
	p, bg := New(WithService("payments")), context.Background()
	if n := testing.AllocsPerRun(100, func() { _ = p.Do(Inbound(bg, "12", "gateway,orders"), ok) }); n != 1 {
		t.Errorf("Inbound and check allocs = %v, want 1", n)
	}
	var ctx context.Context
	_ = p.Do(Inbound(bg, "12", "gateway,orders"), func(c context.Context) error { ctx = c; return nil })
	_, _, _ = Outbound(ctx)
	if n := testing.AllocsPerRun(100, func() { _, _, _ = Outbound(ctx) }); n != 0 {
		t.Errorf("Outbound allocs after the first = %v, want 0", n)
	}
}

func TestClientDefaultHops(t *testing.T) {
	// With no inbound request, a client policy's own default budget applies.
	var hops string
	_ = New(WithDefaultHops(3)).Do(context.Background(), func(ctx context.Context) error {
		if n, ok := FromContext(ctx); !ok || n != 3 {
			t.Errorf("FromContext = %d, %v, want 3, true", n, ok)
		}
		hops, _, _ = Outbound(ctx)
		return nil
	})
	if hops != "2" {
		t.Errorf("Outbound hops = %q, want 2", hops)
	}
}

func TestInboundWithoutHeaders(t *testing.T) {
	bg := context.Background()
	if ctx := Inbound(bg, "", ""); ctx != bg {
		t.Error("Inbound without headers made a new context, want the same one")
	}
	// A server's TTL still gives such a request its own default budget and id.
	var hops, path string
	_ = New(WithService("edge"), WithDefaultHops(5)).Do(Inbound(bg, "", ""), func(ctx context.Context) error {
		hops, path, _ = Outbound(ctx)
		return nil
	})
	if hops != "4" || path != "edge" {
		t.Errorf("Outbound = %q, %q, want 4, edge", hops, path)
	}
	// A context that already carries state is reset, as edge mode needs.
	ctx := Inbound(NewContext(bg, 200), "", "")
	if _, ok := FromContext(ctx); ok {
		t.Error("Inbound(\"\", \"\") kept an earlier budget, want it dropped")
	}
	if n := testing.AllocsPerRun(10, func() { _ = Inbound(bg, "", "") }); !race.Enabled && n != 0 {
		t.Errorf("Inbound without headers allocs = %v, want 0", n)
	}
}

// TestRoles: a request that arrives with no hops left may be served (the
// server's TTL runs it), but a client's Guard refuses a call made with it,
// as Outbound does, whether or not a TTL checked the request.
func TestRoles(t *testing.T) {
	bg := context.Background()
	checked := func(ctx context.Context) context.Context {
		_ = New(WithService("b")).Do(ctx, func(c context.Context) error { ctx = c; return nil })
		return ctx
	}
	tests := []struct {
		name      string
		ctx       context.Context
		wantGuard error
	}{
		{"inbound, no TTL ran", Inbound(bg, "0", "a"), ErrExhausted},
		{"inbound, checked", checked(Inbound(bg, "0", "a")), ErrExhausted},
		{"set by hand", NewContext(bg, 0), ErrExhausted},
		{"inbound with hops", Inbound(bg, "1", "a"), nil},
		{"no state", bg, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, want := Outbound(tt.ctx)
			if want != tt.wantGuard {
				t.Fatalf("Outbound = %v, want %v", want, tt.wantGuard)
			}
			ran := false
			err := NewGuard().Do(tt.ctx, func(context.Context) error { ran = true; return nil })
			if err != tt.wantGuard || ran != (tt.wantGuard == nil) {
				t.Errorf("Guard.Do = %v, ran %v; want %v, as Outbound", err, ran, tt.wantGuard)
			}
			h := NewGuard().Wrap(callguard.Invoke)
			if err := h(tt.ctx, ok); err != tt.wantGuard {
				t.Errorf("Guard.Wrap = %v, want %v", err, tt.wantGuard)
			}
		})
	}
	// The server's TTL serves a request that arrived with 0 hops.
	if err := New(WithService("b")).Do(Inbound(bg, "0", "a"), ok); err != nil {
		t.Errorf("TTL.Do(0 hops inbound) = %v, want nil: the server answers it", err)
	}
}

// TestCheckedOnce: a request is checked by the first TTL it meets; a
// second passes it unchanged and adds no id to the path.
func TestCheckedOnce(t *testing.T) {
	ctx := Inbound(context.Background(), "5", "a")
	var path string
	err := New(WithService("b")).Do(ctx, func(ctx context.Context) error {
		return New(WithService("c")).Do(ctx, func(ctx context.Context) error {
			_, path, _ = Outbound(ctx)
			return nil
		})
	})
	if err != nil || path != "a,b" {
		t.Errorf("Outbound path = %q, %v; want a,b, nil", path, err)
	}
}
