// Command benchtool is the Go half of callguard's benchmark scripts in .ci:
//
//	benchtool compare -old DIR -new DIR [flags]   A/B comparison of the hot path (.ci/benchcmp)
//	benchtool table [flags]                        rewrite the README's benchmark table (.ci/benchtable)
//	benchtool check [-readme README.md]            every benchmark the table names exists (.ci/run)
//
// It lives under .ci so that ./... patterns (go vet, go test, staticcheck)
// leave it out; run it as `go run ./.ci/benchtool` from the repository root.
// It uses the standard library only; benchstat runs through `go run` at a
// pinned version.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: benchtool compare|table|check [flags]")
		os.Exit(2)
	}
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "compare":
		err = compareMain(args)
	case "table":
		err = tableMain(args)
	case "check":
		err = checkMain(args)
	default:
		err = fmt.Errorf("unknown command %q", cmd)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtool:", err)
		if err == errFailed {
			os.Exit(1)
		}
		os.Exit(2)
	}
}

// sample is what one run of a benchmark reported.
type sample struct {
	ns, allocs float64
	hasAllocs  bool
}

// benchLine matches a result line of `go test -bench`: the name with its
// -GOMAXPROCS suffix, the iterations and the metrics.
var benchLine = regexp.MustCompile(`^(Benchmark\S*?)(?:-\d+)?\s+\d+\s+(.*)$`)

// parseBench reads `go test -bench -benchmem` output and returns the samples
// of each benchmark by name (without the -GOMAXPROCS suffix; sub-benchmarks
// keep their /sub part).
func parseBench(r io.Reader) (map[string][]sample, error) {
	out := map[string][]sample{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		m := benchLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		var s sample
		f := strings.Fields(m[2])
		for i := 0; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("%q: %v", sc.Text(), err)
			}
			switch f[i+1] {
			case "ns/op":
				s.ns = v
			case "allocs/op":
				s.allocs, s.hasAllocs = v, true
			}
		}
		out[m[1]] = append(out[m[1]], s)
	}
	return out, sc.Err()
}

// median returns the median of the field that get picks from ss.
func median(ss []sample, get func(sample) float64) float64 {
	if len(ss) == 0 {
		return 0
	}
	v := make([]float64, len(ss))
	for i, s := range ss {
		v[i] = get(s)
	}
	sort.Float64s(v)
	if n := len(v); n%2 == 0 {
		return (v[n/2-1] + v[n/2]) / 2
	}
	return v[len(v)/2]
}

func nsOf(s sample) float64     { return s.ns }
func allocsOf(s sample) float64 { return s.allocs }

// qualified names a benchmark for people: "bulkhead.BenchmarkDo", with
// "callguard" for the root package.
func qualified(dir, name string) string {
	return pkgName(dir) + "." + name
}

func pkgName(dir string) string {
	if dir == "." {
		return "callguard"
	}
	return dir
}

func pkgDir(name string) string {
	if name == "callguard" {
		return "."
	}
	return name
}
