package main

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
)

// verdict decides one row: the text for the table and whether it fails the
// comparison. Any increase of the median allocs/op fails; so does an ns/op
// increase that benchstat calls significant (p < 0.05) and that is larger
// than threshold percent. A Bench-Allow trailer naming the benchmark turns
// either failure into a printed note.
func verdict(r row, allow map[string]string, threshold float64) (string, bool) {
	switch {
	case len(r.new) == 0:
		return "FAIL: no result at the head", true
	case len(r.old) == 0:
		note := r.note
		if note == "" {
			note = "not at the base"
		}
		return "new: " + note, false
	}
	var fails []string
	if o, n := median(r.old, allocsOf), median(r.new, allocsOf); n > o {
		fails = append(fails, fmt.Sprintf("allocs/op %g → %g", o, n))
	}
	d := deltaPct(r)
	sig := significant(r)
	if sig && d > threshold {
		fails = append(fails, fmt.Sprintf("ns/op %+.1f%% > %g%%", d, threshold))
	}
	if len(fails) > 0 {
		if reason, ok := allowed(allow, r.name); ok {
			return "allowed (" + strings.Join(fails, ", ") + "): " + reason, false
		}
		return "FAIL: " + strings.Join(fails, ", "), true
	}
	switch {
	case !sig:
		return "ok (~)", false
	case d > 0:
		return "ok (slower, under threshold)", false
	default:
		return "ok (faster)", false
	}
}

// report prints the comparison table and reports whether it passed.
func report(w io.Writer, rows []row, allow map[string]string, threshold float64) bool {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "benchmark\told ns/op\tnew ns/op\tdelta\tp\tallocs\t verdict")
	pass := true
	worst, worstName, worstSig, worstSigName := 0.0, "", 0.0, "-"
	for _, r := range rows {
		v, fail := verdict(r, allow, threshold)
		pass = pass && !fail
		old, new, delta, allocs := "-", "-", "-", "-"
		if len(r.old) > 0 {
			old = fmt.Sprintf("%.4g", median(r.old, nsOf))
			allocs = fmt.Sprintf("%g", median(r.old, allocsOf))
		}
		if len(r.new) > 0 {
			new = fmt.Sprintf("%.4g", median(r.new, nsOf))
			allocs += fmt.Sprintf("→%g", median(r.new, allocsOf))
		}
		if len(r.old) > 0 && len(r.new) > 0 {
			d := deltaPct(r)
			delta = fmt.Sprintf("%+.1f%%", d)
			if math.Abs(d) > math.Abs(worst) {
				worst, worstName = d, r.name
			}
			if significant(r) && math.Abs(d) > math.Abs(worstSig) {
				worstSig, worstSigName = d, r.name
			}
		}
		p := r.p
		if p == "" {
			p = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t %s\n", r.name, old, new, delta, p, allocs, v)
	}
	tw.Flush()
	fmt.Fprintf(w, "largest |delta|: %.1f%% (%s); of the significant ones: %.1f%% (%s)\n",
		math.Abs(worst), worstName, math.Abs(worstSig), worstSigName)
	fmt.Fprintf(w, "rules: any allocs/op increase fails; ns/op fails if significant (p<0.05) and > +%g%%; Bench-Allow: <benchmark> <reason> excuses\n", threshold)
	return pass
}

// significant reports whether benchstat found the ns/op change significant.
func significant(r row) bool {
	return r.delta != "" && r.delta != "~" && r.delta != "?"
}
