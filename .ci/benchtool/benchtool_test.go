package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const benchOut = `goos: linux
pkg: github.com/callguard/callguard/bulkhead
BenchmarkDo-2     	 5429682	        20.91 ns/op	       0 B/op	       0 allocs/op
BenchmarkDo-2     	 5429682	        22.00 ns/op	       0 B/op	       0 allocs/op
BenchmarkDo-2     	 5429682	        21.00 ns/op	       8 B/op	       1 allocs/op
BenchmarkWaitCancel/100-2   	  100	      514 ns/op	     160 B/op	       5 allocs/op
PASS
`

func TestParseBench(t *testing.T) {
	got, err := parseBench(strings.NewReader(benchOut))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(got["BenchmarkDo"]); n != 3 {
		t.Fatalf("BenchmarkDo: %d samples, want 3", n)
	}
	if m := median(got["BenchmarkDo"], nsOf); m != 21 {
		t.Errorf("median ns/op = %g, want 21", m)
	}
	if s := got["BenchmarkWaitCancel/100"]; len(s) != 1 || s[0].allocs != 5 {
		t.Errorf("BenchmarkWaitCancel/100 = %+v, want one sample with 5 allocs", s)
	}
}

func TestParseBenchstatCSV(t *testing.T) {
	csv := ",old.txt,,new.txt,,,\n,sec/op,CI,sec/op,CI,vs base,P\n" +
		"Do-2,1.6e-07,0%,2.4e-07,1%,+50.00%,p=0.000 n=8\nOpen-2,2.7e-08,1%,2.7e-08,1%,~,p=0.721 n=8\n" +
		"geomean,1e-07,,1e-07,,+1%,\n\n,old.txt,,new.txt,,,\n,allocs/op,CI,allocs/op,CI,vs base,P\n" +
		"Do-2,0,0%,1,0%,+Inf%,p=0.000 n=8\n"
	got, err := parseBenchstatCSV([]byte(csv))
	if err != nil {
		t.Fatal(err)
	}
	if got["BenchmarkDo"] != [2]string{"+50.00%", "0.000"} || got["BenchmarkOpen"] != [2]string{"~", "0.721"} {
		t.Errorf("parseBenchstatCSV = %v", got)
	}
}

func samples(ns, allocs float64, n int) []sample {
	s := make([]sample, n)
	for i := range s {
		s[i] = sample{ns: ns + float64(i%3), allocs: allocs, hasAllocs: true}
	}
	return s
}

func TestVerdict(t *testing.T) {
	allow := map[string]string{"bulkhead.BenchmarkDo": "the queue needs it", "BenchmarkHandler": "new header"}
	for _, c := range []struct {
		desc string
		r    row
		fail bool
		want string
	}{
		{"same", row{name: "breaker.BenchmarkDo", old: samples(160, 0, 8), new: samples(161, 0, 8), delta: "~"}, false, "ok (~)"},
		{"one more alloc", row{name: "retry.BenchmarkDo", old: samples(5, 0, 8), new: samples(5, 1, 8), delta: "~"}, true, "allocs/op 0 → 1"},
		{"alloc allowed", row{name: "bulkhead.BenchmarkDo", old: samples(20, 0, 8), new: samples(30, 1, 8), delta: "+50%"}, false, "allowed"},
		{"bare name allows every package's", row{name: "httpx.BenchmarkHandler", old: samples(20, 0, 8), new: samples(30, 1, 8), delta: "+50%"}, false, "allowed"},
		{"allowance is per benchmark", row{name: "bulkhead.BenchmarkDoFull", old: samples(20, 0, 8), new: samples(20, 1, 8), delta: "~"}, true, "FAIL"},
		{"significant, above threshold", row{name: "breaker.BenchmarkDo", old: samples(160, 0, 8), new: samples(1160, 0, 8), delta: "+625%"}, true, "ns/op +"},
		{"significant, under threshold", row{name: "breaker.BenchmarkDo", old: samples(160, 0, 8), new: samples(180, 0, 8), delta: "+12%"}, false, "under threshold"},
		{"large but not significant", row{name: "breaker.BenchmarkDo", old: samples(160, 0, 8), new: samples(400, 0, 8), delta: "~"}, false, "ok (~)"},
		{"faster", row{name: "breaker.BenchmarkDo", old: samples(160, 0, 8), new: samples(100, 0, 8), delta: "-37%"}, false, "faster"},
		{"fewer allocs", row{name: "timeout.BenchmarkDo", old: samples(500, 4, 8), new: samples(500, 3, 8), delta: "~"}, false, "ok"},
		{"not at the base", row{name: "grpcx.BenchmarkX", new: samples(1, 0, 8)}, false, "new: not at the base"},
		{"gone at the head", row{name: "grpcx.BenchmarkX", old: samples(1, 0, 8)}, true, "no result at the head"},
	} {
		got, fail := verdict(c.r, allow, 25)
		if fail != c.fail || !strings.Contains(got, c.want) {
			t.Errorf("%s: verdict = %q, fail %v; want %q, fail %v", c.desc, got, fail, c.want, c.fail)
		}
	}
}

func TestFmtNs(t *testing.T) {
	for v, want := range map[float64]string{0.8437: "0.84", 3.91: "3.91", 20.44: "20.4", 194.4: "194", 23142.2: "23 142", 1383: "1 383"} {
		if got := fmtNs(v); got != want {
			t.Errorf("fmtNs(%g) = %q, want %q", v, got, want)
		}
	}
}

func TestCheckTable(t *testing.T) {
	root := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("bench_test.go", "package callguard\n\nfunc BenchmarkPipeline(b *testing.B) {}\n")
	write("timeout/bench_test.go", "package timeout\n\nfunc BenchmarkContextWithTimeout(b *testing.B) {}\nfunc BenchmarkDo(b *testing.B) {}\n")
	table := func(rows string) []byte {
		return []byte("# x\n" + startMarker + "\n| benchmark | ns/op |\n|---|---:|\n" + rows + endMarker + "\nafter `bulkhead` `BenchmarkGone`\n")
	}
	good := "| `callguard` `BenchmarkPipeline` (`Gradient`) | 1 | `timeout` `BenchmarkContextWithTimeout` 2 ns |\n" +
		"| `timeout` `BenchmarkDo` | 1 | |\n"
	if n, err := checkTable(table(good), root); err != nil || n != 3 {
		t.Errorf("good table: checked %d, %v; want 3, nil", n, err)
	}
	for _, bad := range []string{
		"| `callguard` `BenchmarkChainEmpty` | 1 | |\n",       // no such benchmark
		"| `callguard` `BenchmarkContextWithTimeout` | 1 |\n", // in another package
		"| `BenchmarkPipeline` | 1 |\n",                       // no package
		"| `timeout` | 1 |\n",                                 // no benchmark at all
	} {
		if _, err := checkTable(table(bad), root); err == nil {
			t.Errorf("checkTable(%q) = nil, want an error", bad)
		}
	}
	if _, err := checkTable([]byte("no markers"), root); err == nil {
		t.Error("checkTable without markers = nil, want an error")
	}
}

func TestRenderTable(t *testing.T) {
	rows, err := parseSpec([]byte("# comment\n" +
		"callguard | BenchmarkPipeline | … + timeout | timeout.BenchmarkContextWithTimeout BenchmarkBare | note\n" +
		"bulkhead | BenchmarkWaitCancel/100 BenchmarkWaitCancel/10000 | 100 / 10 000 waiters | |\n"))
	if err != nil {
		t.Fatal(err)
	}
	pkgs, names := wanted(rows)
	if strings.Join(pkgs, " ") != "callguard timeout bulkhead" || strings.Join(names["bulkhead"], " ") != "BenchmarkWaitCancel" {
		t.Errorf("wanted = %v %v", pkgs, names)
	}
	res := map[string]map[string][]sample{
		"callguard": {"BenchmarkPipeline": samples(747, 4, 5), "BenchmarkBare": samples(0.5, 0, 1)},
		"timeout":   {"BenchmarkContextWithTimeout": samples(493, 4, 5)},
		"bulkhead":  {"BenchmarkWaitCancel/100": samples(514, 5, 3), "BenchmarkWaitCancel/10000": samples(643, 5, 3)},
	}
	got, err := renderTable(rows, res)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| `callguard` `BenchmarkPipeline` (… + timeout) | 748 | 4 | `timeout` `BenchmarkContextWithTimeout` 494 ns, 4 allocs; `BenchmarkBare` 0.50 ns, 0 allocs; note |\n",
		"| `bulkhead` `BenchmarkWaitCancel` (100 / 10 000 waiters) | 515 / 644 | 5 | |\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("renderTable:\n%s\nwant a line\n%s", got, want)
		}
	}
	delete(res["timeout"], "BenchmarkContextWithTimeout")
	if _, err := renderTable(rows, res); err == nil {
		t.Error("renderTable with a baseline missing = nil, want an error")
	}
}
