package main

import (
	"fmt"
	"io"

	"github.com/callguard/callguard/loadshed"
)

// A bound is one of -check's generous bounds on a row.
type bound struct {
	id     string
	factor float64
	figure string
	value  func(*result) float64 // in percent
	min    float64               // in percent
}

var bounds = []bound{
	{"c", 2, "goodput, % of capacity", func(r *result) float64 { return 100 * r.goodput() / capacity }, 80},
	{"d", 2, "critical success, %", func(r *result) float64 { return 100 * r.success(loadshed.Critical) }, 95},
}

// check prints each bound's verdict and reports whether all held. A bound
// whose row did not run is skipped.
func check(w io.Writer, rs []*result) bool {
	ok := true
	for _, b := range bounds {
		r := find(rs, b.id, b.factor)
		if r == nil {
			fmt.Fprintf(w, "check skipped: %s at %g× did not run\n", b.id, b.factor)
			continue
		}
		v := b.value(r)
		verdict := "ok"
		if v < b.min {
			verdict, ok = "FAILED", false
		}
		fmt.Fprintf(w, "check %s: %s (%s) at %g×: %s = %.1f, want >= %.0f\n", verdict, b.id, r.name, b.factor, b.figure, v, b.min)
	}
	return ok
}
