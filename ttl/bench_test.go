package ttl

import (
	"context"
	"testing"
)

// BenchmarkHopCheck is the server side of one hop: parse the inbound hop
// count and path, check for a loop, and build the request context.
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
