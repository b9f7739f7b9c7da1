package callguard_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/internal/race"
)

// recorder is a policy that appends its name to a trace before and after the
// rest of the pipeline.
type recorder struct {
	name  string
	trace *[]string
}

func (r recorder) Wrap(next callguard.Handler) callguard.Handler {
	return func(ctx context.Context, call func(context.Context) error) error {
		*r.trace = append(*r.trace, r.name+">")
		err := next(ctx, call)
		*r.trace = append(*r.trace, "<"+r.name)
		return err
	}
}

func TestChainOrder(t *testing.T) {
	var trace []string
	a, b, c := recorder{"a", &trace}, recorder{"b", &trace}, recorder{"c", &trace}
	tests := []struct {
		name string
		give *callguard.Pipeline
	}{
		{"flat", callguard.Chain(a, b, c)},
		{"nested", callguard.Chain(a, callguard.Chain(b, c))},
		{"nil skipped", callguard.Chain(nil, a, nil, b, c)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			trace = trace[:0]
			err := tt.give.Do(context.Background(), func(context.Context) error {
				trace = append(trace, "call")
				return nil
			})
			if err != nil {
				t.Fatalf("Do = %v, want nil", err)
			}
			got := strings.Join(trace, " ")
			if want := "a> b> c> call <c <b <a"; got != want {
				t.Errorf("trace = %q, want %q", got, want)
			}
		})
	}
}

func TestChainPassesErrorAndContext(t *testing.T) {
	type key struct{}
	ctx := context.WithValue(context.Background(), key{}, "v")
	want := errors.New("boom")
	var nilPipeline *callguard.Pipeline
	for _, p := range []*callguard.Pipeline{callguard.Chain(), nilPipeline, {}} {
		err := p.Do(ctx, func(ctx context.Context) error {
			if ctx.Value(key{}) != "v" {
				t.Error("call did not get the caller's context")
			}
			return want
		})
		if err != want {
			t.Errorf("Do = %v, want %v", err, want)
		}
	}
}

func TestFallback(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name    string
		give    error
		fb      func(context.Context, error) error
		wantErr error
		wantFB  bool
	}{
		{"success skips fallback", nil, func(context.Context, error) error { return boom }, nil, false},
		{"fallback handles", boom, func(context.Context, error) error { return nil }, nil, true},
		{"fallback replaces", boom, func(_ context.Context, err error) error { return fmt.Errorf("fb: %w", err) }, boom, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ran := false
			p := callguard.Chain(callguard.Fallback(func(ctx context.Context, err error) error {
				ran = true
				return tt.fb(ctx, err)
			}))
			err := p.Do(context.Background(), func(context.Context) error { return tt.give })
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Errorf("Do = %v, want %v", err, tt.wantErr)
			}
			if ran != tt.wantFB {
				t.Errorf("fallback ran = %v, want %v", ran, tt.wantFB)
			}
		})
	}
}

func TestFallbackNilPanics(t *testing.T) {
	defer func() {
		if r, want := recover(), "callguard: Fallback with nil function"; r != want {
			t.Errorf("Fallback(nil) panic = %v, want %q", r, want)
		}
	}()
	callguard.Fallback(nil)
}

func TestErrorClasses(t *testing.T) {
	cause := errors.New("cause")
	rejected := callguard.NewRejection("test: full")
	tests := []struct {
		name          string
		give          error
		wantPermanent bool
		wantOverload  bool
		wantRejected  bool
		wantDelay     time.Duration
	}{
		{"nil", nil, false, false, false, 0},
		{"plain", cause, false, false, false, 0},
		{"permanent", callguard.Permanent(cause), true, false, false, 0},
		{"wrapped permanent", fmt.Errorf("x: %w", callguard.Permanent(cause)), true, false, false, 0},
		{"overloaded no delay", callguard.Overloaded(0, cause), false, true, false, 0},
		{"overloaded negative", callguard.Overloaded(-time.Second, nil), false, true, false, 0},
		{"overloaded with delay", callguard.Overloaded(250*time.Millisecond, cause), false, true, false, 250 * time.Millisecond},
		{"wrapped overloaded", fmt.Errorf("x: %w", callguard.Overloaded(time.Second, nil)), false, true, false, time.Second},
		{"rejection", rejected, false, true, true, 0},
		{"wrapped rejection", fmt.Errorf("x: %w", rejected), false, true, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := callguard.IsPermanent(tt.give); got != tt.wantPermanent {
				t.Errorf("IsPermanent(%v) = %v, want %v", tt.give, got, tt.wantPermanent)
			}
			if got := errors.Is(tt.give, callguard.ErrOverloaded); got != tt.wantOverload {
				t.Errorf("errors.Is(%v, ErrOverloaded) = %v, want %v", tt.give, got, tt.wantOverload)
			}
			if got := errors.Is(tt.give, callguard.ErrRejected); got != tt.wantRejected {
				t.Errorf("errors.Is(%v, ErrRejected) = %v, want %v", tt.give, got, tt.wantRejected)
			}
			d, ok := callguard.Pushback(tt.give)
			if ok != tt.wantOverload || d != tt.wantDelay {
				t.Errorf("Pushback(%v) = %v, %v, want %v, %v", tt.give, d, ok, tt.wantDelay, tt.wantOverload)
			}
		})
	}
	if callguard.Permanent(nil) != nil {
		t.Error("Permanent(nil) != nil")
	}
	if err := callguard.Permanent(cause); !errors.Is(err, cause) || err.Error() != "cause" {
		t.Errorf("Permanent(cause) = %v, want to wrap cause", err)
	}
	if err := callguard.Overloaded(0, cause); !errors.Is(err, cause) {
		t.Errorf("Overloaded(0, cause) = %v, want to wrap cause", err)
	}
}

func TestOverloadedErrorMessage(t *testing.T) {
	tests := []struct {
		give error
		want string
	}{
		{callguard.Overloaded(0, nil), "callguard: overloaded, do not retry"},
		{callguard.Overloaded(2*time.Second, errors.New("503")), "callguard: overloaded, retry after 2s: 503"},
	}
	for _, tt := range tests {
		if got := tt.give.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func TestChainAllocs(t *testing.T) {
	if testing.Short() || race.Enabled {
		t.Skip("allocation counts are not meaningful under -race or -short")
	}
	p := callguard.Chain(callguard.Fallback(func(context.Context, error) error { return nil }))
	ctx := context.Background()
	call := func(context.Context) error { return nil }
	if n := testing.AllocsPerRun(100, func() { _ = p.Do(ctx, call) }); n != 0 {
		t.Errorf("Do allocs = %v, want 0", n)
	}
}

func TestRetryable(t *testing.T) {
	cause := errors.New("cause")
	tests := []struct {
		give error
		want bool
	}{
		{nil, false},
		{cause, true},
		{callguard.Permanent(cause), false},
		{callguard.NoRetry(cause), false},
		{fmt.Errorf("w: %w", callguard.NoRetry(cause)), false},
		{callguard.Overloaded(0, cause), false},
		{callguard.NewRejection("x: full"), false},
		{callguard.Overloaded(time.Second, cause), true},
	}
	for _, tt := range tests {
		if got := callguard.Retryable(tt.give); got != tt.want {
			t.Errorf("Retryable(%v) = %v, want %v", tt.give, got, tt.want)
		}
	}
	if callguard.NoRetry(nil) != nil {
		t.Error("NoRetry(nil) != nil")
	}
	if err := callguard.NoRetry(cause); !errors.Is(err, cause) || callguard.IsPermanent(err) {
		t.Errorf("NoRetry(cause) = %v: want to wrap cause and not be permanent", err)
	}
}

func TestClassifyAllocs(t *testing.T) {
	if testing.Short() || race.Enabled {
		t.Skip("allocation counts are not meaningful under -race or -short")
	}
	errs := []error{
		errors.New("plain"),
		fmt.Errorf("w: %w", callguard.Permanent(errors.New("x"))),
		errors.Join(errors.New("a"), callguard.Overloaded(time.Second, nil)),
		callguard.NewRejection("x: full"),
	}
	for _, err := range errs {
		n := testing.AllocsPerRun(100, func() {
			_ = callguard.IsPermanent(err)
			_, _ = callguard.Pushback(err)
			_ = callguard.Retryable(err)
		})
		if n != 0 {
			t.Errorf("classifying %v allocs = %v, want 0", err, n)
		}
	}
}

func TestRequestID(t *testing.T) {
	ctx := context.Background()
	if id := callguard.RequestIDFromContext(ctx); id != "" {
		t.Errorf("RequestIDFromContext(Background) = %q, want empty", id)
	}
	ctx = callguard.ContextWithRequestID(ctx, "req-42")
	if id := callguard.RequestIDFromContext(ctx); id != "req-42" {
		t.Errorf("RequestIDFromContext = %q, want req-42", id)
	}
}

func TestValidRequestID(t *testing.T) {
	tests := []struct {
		give string
		want bool
	}{
		{"", false},
		{"req-42", true},
		{"a b", false},
		{"tab\there", false},
		{"é", false},
		{strings.Repeat("x", callguard.MaxRequestIDLen), true},
		{strings.Repeat("x", callguard.MaxRequestIDLen+1), false},
	}
	for _, tt := range tests {
		if got := callguard.ValidRequestID(tt.give); got != tt.want {
			t.Errorf("ValidRequestID(%q) = %v, want %v", tt.give, got, tt.want)
		}
	}
	a, b := callguard.NewRequestID(), callguard.NewRequestID()
	if a == b || len(a) != 16 || !callguard.ValidRequestID(a) {
		t.Errorf("NewRequestID() = %q, %q: want two different 16-digit ids", a, b)
	}
}

func TestErrorWithRequestID(t *testing.T) {
	boom := callguard.Permanent(errors.New("boom"))
	ctx := callguard.ContextWithRequestID(context.Background(), "r-7")
	err := callguard.ErrorWithRequestID(ctx, boom)
	var rid *callguard.RequestIDError
	if !errors.As(err, &rid) || rid.ID != "r-7" || !errors.Is(err, boom) || !callguard.IsPermanent(err) {
		t.Fatalf("ErrorWithRequestID = %#v, want a RequestIDError r-7 around boom, still permanent", err)
	}
	if want := "boom [request r-7]"; err.Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}
	if again := callguard.ErrorWithRequestID(ctx, err); again != err {
		t.Errorf("annotating twice = %v, want the same error", again)
	}
	if got := callguard.ErrorWithRequestID(context.Background(), boom); got != boom {
		t.Errorf("without an id = %v, want boom unchanged", got)
	}
	if got := callguard.ErrorWithRequestID(ctx, nil); got != nil {
		t.Errorf("nil error = %v, want nil", got)
	}
}

func TestContextWithRequestIDInvalid(t *testing.T) {
	boom := errors.New("boom")
	outer := callguard.ContextWithRequestID(context.Background(), "r-1")
	tests := []struct {
		name      string
		giveID    string
		wantAlone string // the id of ContextWithRequestID(Background, giveID)
		wantOver  string // the id of ContextWithRequestID(outer, giveID)
	}{
		{"empty", "", "", "r-1"},
		{"newline", "id\nx", "", "r-1"},
		{"header injection", "x\r\nInjected: 1", "", "r-1"},
		{"control character", "a\x00b", "", "r-1"},
		{"space", "a b", "", "r-1"},
		{"too long", strings.Repeat("x", callguard.MaxRequestIDLen+1), "", "r-1"},
		{"valid", "r-2", "r-2", "r-2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := callguard.ContextWithRequestID(context.Background(), tt.giveID)
			if got := callguard.RequestIDFromContext(ctx); got != tt.wantAlone {
				t.Errorf("RequestIDFromContext(ContextWithRequestID(%q)) = %q, want %q", tt.giveID, got, tt.wantAlone)
			}
			if got := callguard.RequestIDFromContext(callguard.ContextWithRequestID(outer, tt.giveID)); got != tt.wantOver {
				t.Errorf("over r-1: RequestIDFromContext = %q, want %q", got, tt.wantOver)
			}
			msg := callguard.ErrorWithRequestID(ctx, boom).Error()
			if strings.ContainsAny(msg, "\r\n\x00") || len(msg) > len("boom [request ]")+callguard.MaxRequestIDLen {
				t.Errorf("ErrorWithRequestID(…).Error() = %q, want no raw invalid id", msg)
			}
		})
	}
}

func TestRequestIDErrorQuotesInvalidID(t *testing.T) {
	err := &callguard.RequestIDError{ID: "x\r\nInjected: 1", Err: errors.New("boom")}
	if got, want := err.Error(), `boom [request "x\r\nInjected: 1"]`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
