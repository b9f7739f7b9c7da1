package route_test

import (
	"testing"
	"time"

	"github.com/callguard/callguard/internal/race"
	"github.com/callguard/callguard/route"
)

// TestAdmitAllocs: admitting a request allocates nothing, whether the
// table is empty or another route is down.
func TestAdmitAllocs(t *testing.T) {
	if testing.Short() || race.Enabled {
		t.Skip("alloc guard: not with -short or -race")
	}
	linked := route.New()
	linked.Observe("POST /checkout", "payments", time.Hour)
	for name, tb := range map[string]*route.Table{"empty": route.New(), "otherRouteDown": linked} {
		if n := testing.AllocsPerRun(100, func() { _, _ = tb.Admit("GET /browse") }); n != 0 {
			t.Errorf("%s: Admit allocs = %v, want 0", name, n)
		}
	}
}

func BenchmarkAdmit(b *testing.B) {
	linked := route.New()
	linked.Observe("POST /checkout", "payments", time.Hour)
	for _, bm := range []struct {
		name string
		t    *route.Table
	}{{"empty", route.New()}, {"otherRouteDown", linked}} {
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					_, _ = bm.t.Admit("GET /browse")
				}
			})
		})
	}
}
