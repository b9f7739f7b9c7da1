package callguardtest_test

import (
	"testing"

	"github.com/callguard/callguard/callguardtest"
)

func TestScripts(t *testing.T) {
	F, S := callguardtest.Fail, callguardtest.Serve
	tests := []struct {
		name string
		give callguardtest.Script
		want []callguardtest.Fault // for requests 1, 2, ...
	}{
		{"always", callguardtest.Always(F), []callguardtest.Fault{F, F, F}},
		{"first", callguardtest.First(2, F), []callguardtest.Fault{F, F, S, S}},
		{"every", callguardtest.Every(3, F), []callguardtest.Fault{S, S, F, S, S, F}},
		{"sequence", callguardtest.Sequence(S, F, callguardtest.Hang), []callguardtest.Fault{S, F, callguardtest.Hang, S, S}},
		{"rate 0", callguardtest.Rate(0, F, 1), []callguardtest.Fault{S, S, S}},
		{"rate 1", callguardtest.Rate(1, F, 1), []callguardtest.Fault{F, F, F}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i, want := range tt.want {
				if got := tt.give(i + 1); got != want {
					t.Errorf("script(%d) = %v, want %v", i+1, got, want)
				}
			}
		})
	}
}

func TestRateRepeatsAndHoldsShare(t *testing.T) {
	a, b := callguardtest.Rate(0.3, callguardtest.Fail, 42), callguardtest.Rate(0.3, callguardtest.Fail, 42)
	const n = 20000
	failed := 0
	for i := 1; i <= n; i++ {
		fa := a(i)
		if fb := b(i); fa != fb {
			t.Fatalf("request %d: %v and %v from the same seed", i, fa, fb)
		}
		if fa == callguardtest.Fail {
			failed++
		}
	}
	// Standard deviation of the share: 0.0032; the bounds are ten away.
	if share := float64(failed) / n; share < 0.268 || share > 0.332 {
		t.Errorf("share of faults = %.3f, want about 0.3", share)
	}
}

func TestScriptPanics(t *testing.T) {
	for name, f := range map[string]func(){
		"Every(0)":  func() { callguardtest.Every(0, callguardtest.Fail) },
		"Rate(1.5)": func() { callguardtest.Rate(1.5, callguardtest.Fail, 0) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s did not panic", name)
				}
			}()
			f()
		}()
	}
}

func TestFaultString(t *testing.T) {
	if got := callguardtest.Shed.String(); got != "Shed" {
		t.Errorf("Shed.String() = %q", got)
	}
	if got := callguardtest.Fault(99).String(); got != "Fault(99)" {
		t.Errorf("Fault(99).String() = %q", got)
	}
}
