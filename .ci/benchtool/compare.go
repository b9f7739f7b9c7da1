package main

import (
	"bytes"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// hotPath is the set that .ci/benchcmp guards (issue 16): every policy's
// BenchmarkDo, the root's empty chain and pipelines, loadshed's admit and
// release and its throttle, and the adapters' benchmarks without a network
// (the …Only ones and the handler's, which use httptest.NewRecorder).
// Loopback and parallel benchmarks stay out: on a busy 2-core machine they
// vary by more than the regressions this guard is meant to catch.
var hotPath = []struct {
	dir   string
	names []string
}{
	{".", []string{"BenchmarkChainEmpty", "BenchmarkPipeline", "BenchmarkPipelineNoTimeout"}},
	{"breaker", []string{"BenchmarkDo"}},
	{"bulkhead", []string{"BenchmarkDo"}},
	{"retry", []string{"BenchmarkDo", "BenchmarkDoWithBudget"}},
	{"timeout", []string{"BenchmarkDo"}},
	{"ttl", []string{"BenchmarkDo"}},
	{"loadshed", []string{"BenchmarkDo", "BenchmarkAcquireRelease", "BenchmarkThrottle", "BenchmarkThrottleDo"}},
	{"httpx", []string{"BenchmarkTransportOnly", "BenchmarkTransportOnlyNoPropagation",
		"BenchmarkTransportOnlyPropagation", "BenchmarkHandler", "BenchmarkHandlerWithTimeout",
		"BenchmarkHandlerPropagation"}},
	{"grpcx", []string{"BenchmarkUnaryInterceptorOnly", "BenchmarkServerInterceptorOnly"}},
}

// errFailed is the comparison's verdict "the head regressed": exit status 1.
var errFailed = errors.New("hot-path benchmarks regressed (see the table above)")

type compareConfig struct {
	oldDir, newDir, work, allowFile, benchstat, benchtime string
	rounds                                                int
	threshold                                             float64
}

// pkgRun is one package's test binaries and the files their runs append to.
type pkgRun struct {
	dir    string
	names  []string
	bin    [2]string // old, new; "" when that side has no binary
	out    [2]string
	reason [2]string // why a side has no binary
}

var sides = [2]string{"old", "new"}

func compareMain(args []string) error {
	var c compareConfig
	fs := flag.NewFlagSet("compare", flag.ExitOnError)
	fs.StringVar(&c.oldDir, "old", "", "source tree of the base commit")
	fs.StringVar(&c.newDir, "new", ".", "source tree of the commit under test")
	fs.StringVar(&c.work, "work", "", "directory for binaries and results (default: a temporary one)")
	fs.StringVar(&c.allowFile, "allow", "", "file of Bench-Allow trailer values, one `<benchmark> <reason>` a line")
	fs.StringVar(&c.benchstat, "benchstat", "golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da", "benchstat package@version for go run")
	fs.StringVar(&c.benchtime, "benchtime", "200ms", "-test.benchtime of each run")
	fs.IntVar(&c.rounds, "rounds", 12, "A/B rounds (each runs every benchmark once per side)")
	fs.Float64Var(&c.threshold, "threshold", 35, "ns/op increase in percent that fails when benchstat calls it significant")
	fs.Parse(args)
	if c.oldDir == "" {
		return errors.New("compare: -old is required")
	}
	if c.work == "" {
		d, err := os.MkdirTemp("", "benchcmp")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		c.work = d
	}
	allow, err := readAllow(c.allowFile)
	if err != nil {
		return err
	}
	pkgs, err := buildAll(&c)
	if err != nil {
		return err
	}
	if err := runRounds(&c, pkgs); err != nil {
		return err
	}
	rows, err := collect(&c, pkgs)
	if err != nil {
		return err
	}
	if !report(os.Stdout, rows, allow, c.threshold) {
		return errFailed
	}
	return nil
}

// buildAll builds the test binary of every hot-path package on both sides.
// The head must build; a base that lacks a package or does not build only
// loses that package's comparison.
func buildAll(c *compareConfig) ([]*pkgRun, error) {
	start := time.Now()
	var pkgs []*pkgRun
	for _, hp := range hotPath {
		p := &pkgRun{dir: hp.dir, names: hp.names}
		key := strings.ReplaceAll(pkgName(hp.dir), "/", "_")
		for i, tree := range [2]string{c.oldDir, c.newDir} {
			p.out[i] = filepath.Join(c.work, sides[i]+"."+key+".txt")
			if _, err := os.Stat(filepath.Join(tree, hp.dir)); err != nil {
				p.reason[i] = "no such package"
				continue
			}
			bin := filepath.Join(c.work, sides[i]+"."+key+".test")
			cmd := exec.Command("go", "test", "-c", "-o", bin, "./"+hp.dir)
			cmd.Dir = tree
			if out, err := cmd.CombinedOutput(); err != nil {
				if i == 1 {
					return nil, fmt.Errorf("building %s at the head: %v\n%s", hp.dir, err, out)
				}
				p.reason[i] = "does not build"
				fmt.Fprintf(os.Stderr, "benchcmp: %s does not build at the base, not compared:\n%s", hp.dir, out)
				continue
			}
			p.bin[i] = bin
		}
		if p.bin[1] == "" {
			return nil, fmt.Errorf("package %s is missing at the head; update hotPath in .ci/benchtool/compare.go", hp.dir)
		}
		pkgs = append(pkgs, p)
	}
	fmt.Fprintf(os.Stderr, "benchcmp: built %d packages × 2 sides in %.0fs\n", len(pkgs), time.Since(start).Seconds())
	return pkgs, nil
}

// runRounds runs the benchmarks interleaved: in each round every package
// runs its old and its new binary back to back, the order alternating
// from round to round and package to package, so that a change in the
// machine's load hits both sides alike.
func runRounds(c *compareConfig, pkgs []*pkgRun) error {
	start := time.Now()
	for r := 0; r < c.rounds; r++ {
		for i, p := range pkgs {
			order := [2]int{0, 1}
			if (r+i)%2 == 1 {
				order = [2]int{1, 0}
			}
			for _, s := range order {
				if p.bin[s] == "" {
					continue
				}
				if err := runOnce(c, p, s); err != nil {
					if s == 1 {
						return err
					}
					fmt.Fprintf(os.Stderr, "benchcmp: base run failed, %s not compared: %v\n", p.dir, err)
					p.bin[0], p.reason[0] = "", "run failed"
				}
			}
		}
		fmt.Fprintf(os.Stderr, "benchcmp: round %d/%d done at %.0fs\n", r+1, c.rounds, time.Since(start).Seconds())
	}
	return nil
}

func runOnce(c *compareConfig, p *pkgRun, side int) error {
	tree := [2]string{c.oldDir, c.newDir}[side]
	cmd := exec.Command(p.bin[side], "-test.run", "^$", "-test.bench", "^("+strings.Join(p.names, "|")+")$",
		"-test.benchmem", "-test.benchtime", c.benchtime, "-test.timeout", "5m")
	cmd.Dir = filepath.Join(tree, p.dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s (%s): %v\n%s", p.dir, sides[side], err, out)
	}
	f, err := os.OpenFile(p.out[side], os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(out); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// row is one benchmark's comparison.
type row struct {
	name     string // qualified: bulkhead.BenchmarkDo
	old, new []sample
	delta    string // benchstat's "vs base": "~" when not significant
	p        string
	note     string // why a side is missing
}

// collect reads every run's output and benchstat's verdict on it.
func collect(c *compareConfig, pkgs []*pkgRun) ([]row, error) {
	var rows []row
	for _, p := range pkgs {
		var res [2]map[string][]sample
		for s := range sides {
			res[s] = map[string][]sample{}
			if p.bin[s] == "" {
				continue
			}
			b, err := os.ReadFile(p.out[s])
			if err != nil {
				return nil, err
			}
			if res[s], err = parseBench(bytes.NewReader(b)); err != nil {
				return nil, err
			}
		}
		stat := map[string][2]string{}
		if p.bin[0] != "" {
			var err error
			if stat, err = runBenchstat(c, p); err != nil {
				return nil, err
			}
		}
		for _, n := range p.names {
			r := row{name: qualified(p.dir, n), old: res[0][n], new: res[1][n], note: p.reason[0]}
			r.delta, r.p = stat[n][0], stat[n][1]
			rows = append(rows, r)
		}
	}
	return rows, nil
}

// runBenchstat returns benchstat's "vs base" and p-value columns of the
// sec/op table for one package, by benchmark name.
func runBenchstat(c *compareConfig, p *pkgRun) (map[string][2]string, error) {
	cmd := exec.Command("go", "run", c.benchstat, "-format", "csv", p.out[0], p.out[1])
	cmd.Dir = c.work // outside any module: go run pkg@version leaves go.mod alone
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("benchstat: %v\n%s", err, stderr.Bytes())
	}
	return parseBenchstatCSV(out)
}

func parseBenchstatCSV(b []byte) (map[string][2]string, error) {
	r := csv.NewReader(bytes.NewReader(b))
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("benchstat csv: %v", err)
	}
	stat := map[string][2]string{}
	unit := ""
	for _, rec := range recs {
		switch {
		case len(rec) > 2 && rec[0] == "" && rec[2] == "CI":
			unit = rec[1]
		case unit == "sec/op" && len(rec) >= 7 && rec[0] != "" && rec[0] != "geomean":
			name := benchLine.FindStringSubmatch("Benchmark" + rec[0] + " 1 x")
			if name == nil {
				return nil, fmt.Errorf("benchstat csv: row %q", rec[0])
			}
			p, _, _ := strings.Cut(rec[6], " ")
			stat[name[1]] = [2]string{rec[5], strings.TrimPrefix(p, "p=")}
		}
	}
	return stat, nil
}

// readAllow reads Bench-Allow trailer values: "<benchmark> <reason>", where
// the benchmark is qualified (bulkhead.BenchmarkDo) or bare (BenchmarkDo:
// every package's). A value without a reason allows nothing.
func readAllow(file string) (map[string]string, error) {
	allow := map[string]string{}
	if file == "" {
		return allow, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		name, reason, _ := strings.Cut(strings.TrimSpace(line), " ")
		if name == "" {
			continue
		}
		if reason = strings.TrimSpace(reason); reason == "" {
			fmt.Fprintf(os.Stderr, "benchcmp: Bench-Allow: %s has no reason; ignored\n", name)
			continue
		}
		allow[name] = reason
	}
	return allow, nil
}

func allowed(allow map[string]string, name string) (string, bool) {
	if r, ok := allow[name]; ok {
		return r, true
	}
	_, bare, _ := strings.Cut(name, ".")
	r, ok := allow[bare]
	return r, ok
}

// deltaPct is the change of the medians in percent.
func deltaPct(r row) float64 {
	o, n := median(r.old, nsOf), median(r.new, nsOf)
	if o == 0 {
		return math.Inf(1)
	}
	return (n/o - 1) * 100
}
