package httpx

import (
	"testing"
	"time"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/hedge"
)

// BenchmarkTransportHedged is BenchmarkTransport with a hedge inside the
// retry whose delay no loopback call reaches: the cost of a hedgeable GET
// when no hedge fires (its safe mark, the attempt's context and timer, and
// the link of the attempt's context to the body). Compare with
// BenchmarkTransport and BenchmarkBareClient.
func BenchmarkTransportHedged(b *testing.B) {
	ts, _, c := loopback(b, callguard.Chain(fastRetry(3), hedge.New(hedge.WithDelay(time.Minute))))
	b.ReportAllocs()
	for b.Loop() {
		get(b, c, ts.URL)
	}
}
