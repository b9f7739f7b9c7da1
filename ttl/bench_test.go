package ttl

import (
	"context"
	"testing"
)

// BenchmarkLoopCheck is the server's loop check alone, on a request that
// arrived: BenchmarkHopCheck without the request's context node, which
// Inbound makes once per request (its one allocation).
func BenchmarkLoopCheck(b *testing.B) {
	b.ReportAllocs()
	p := New(WithService("payments"))
	ctx := Inbound(context.Background(), "12", "gateway,orders,billing,ledger")
	st := fromContext(ctx)
	for b.Loop() {
		st.by.Store(nil) // not checked yet, as on arrival
		_ = p.Do(ctx, ok)
	}
}

// BenchmarkHopCheck is a hop's server side: Inbound reads the header
// values into the request's context (one allocation, the context node),
// and the loop check runs on it.
func BenchmarkHopCheck(b *testing.B) {
	b.ReportAllocs()
	p := New(WithService("payments"))
	bg := context.Background()
	for b.Loop() {
		ctx := Inbound(bg, "12", "gateway,orders,billing,ledger")
		_ = p.Do(ctx, ok)
	}
}

// BenchmarkOutbound is the client side: the header values of a call.
func BenchmarkOutbound(b *testing.B) {
	b.ReportAllocs()
	ctx := Inbound(context.Background(), "12", "gateway,orders")
	_ = New(WithService("billing")).Do(ctx, func(c context.Context) error { ctx = c; return nil })
	for b.Loop() {
		_, _, _ = Outbound(ctx)
	}
}

func BenchmarkBare(b *testing.B) {
	b.ReportAllocs()
	ctx := context.Background()
	for b.Loop() {
		_ = ok(ctx)
	}
}

// BenchmarkDo is the client policy on a request with hops left.
func BenchmarkDo(b *testing.B) {
	b.ReportAllocs()
	p := New()
	ctx := NewContext(context.Background(), 8)
	for b.Loop() {
		_ = p.Do(ctx, ok)
	}
}

func BenchmarkDoParallel(b *testing.B) {
	b.ReportAllocs()
	p := New()
	b.RunParallel(func(pb *testing.PB) {
		ctx := NewContext(context.Background(), 8)
		for pb.Next() {
			_ = p.Do(ctx, ok)
		}
	})
}
