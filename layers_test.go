package callguard_test

import (
	"go/build"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/callguard/callguard"

// deps returns the packages of this module that pkg (a directory relative to
// the module root) imports, directly or not, itself included, and the
// imports from outside the module that they make. It reads only the import
// lines of the files that go/build selects for this platform, not tests.
func deps(t *testing.T, pkg string) (ours, theirs map[string]bool) {
	t.Helper()
	ours, theirs = map[string]bool{}, map[string]bool{}
	var visit func(dir string)
	visit = func(dir string) {
		if ours[dir] {
			return
		}
		ours[dir] = true
		p, err := build.ImportDir(dir, 0)
		if err != nil {
			t.Fatalf("ImportDir(%q): %v", dir, err)
		}
		for _, imp := range p.Imports {
			switch {
			case imp == module:
				visit(".")
			case strings.HasPrefix(imp, module+"/"):
				visit(filepath.FromSlash(strings.TrimPrefix(imp, module+"/")))
			default:
				theirs[imp] = true
			}
		}
	}
	visit(filepath.FromSlash(pkg))
	return ours, theirs
}

// TestLayers pins docs/design.md, "Layers": the packages at the bottom link
// only the packages of ours listed here.
func TestLayers(t *testing.T) {
	tests := []struct {
		pkg      string
		wantOurs []string // every package of ours it links, itself included
	}{
		{".", []string{"."}},
		{"internal/wire", []string{"internal/wire"}},
		{"internal/priority", []string{"internal/priority", "internal/wire"}},
		{"internal/classify", []string{"internal/classify", "."}},
		{"route", []string{"route", "."}},
		{"ttl", []string{"ttl", "internal/wire", "."}},
		{"timeout", []string{"timeout", "internal/wire", "."}},
	}
	for _, tt := range tests {
		t.Run(tt.pkg, func(t *testing.T) {
			ours, _ := deps(t, tt.pkg)
			want := map[string]bool{}
			for _, p := range tt.wantOurs {
				want[filepath.FromSlash(p)] = true
			}
			for p := range ours {
				if !want[p] {
					t.Errorf("%s links %s, want only %v", tt.pkg, p, tt.wantOurs)
				}
			}
		})
	}
}

// TestAdaptersLinkNoPolicy pins docs/design.md, "Layers": the adapters link
// no policy package that they do not need and none of the policies'
// dependencies, so that a program that uses httpx with a breaker alone
// links neither backoff nor x/time. It is the cheap form of
//
//	go list -deps ./httpx ./grpcx | grep -E 'cenkalti/backoff|x/time|gobreaker|callguard/(retry|breaker|bulkhead|loadshed)'
func TestAdaptersLinkNoPolicy(t *testing.T) {
	policies := []string{"retry", "breaker", "bulkhead", "loadshed"}
	external := []string{"github.com/cenkalti/backoff", "golang.org/x/time", "github.com/sony/gobreaker"}
	for _, pkg := range []string{"httpx", "grpcx"} {
		ours, theirs := deps(t, pkg)
		for _, p := range policies {
			if ours[p] {
				t.Errorf("%s links the policy package %s", pkg, p)
			}
		}
		for imp := range theirs {
			for _, x := range external {
				if strings.HasPrefix(imp, x) {
					t.Errorf("%s links %s", pkg, imp)
				}
			}
		}
	}
}
