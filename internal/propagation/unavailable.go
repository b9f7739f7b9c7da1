package propagation

import (
	"errors"
	"strings"
	"time"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/route"
)

// MaxDependencyLen is the longest dependency name that Callguard-Unavailable
// carries.
const MaxDependencyLen = 64

// maxFor bounds the duration that Callguard-Unavailable carries: an hour.
const maxFor = time.Hour

var errUnavailable = errors.New("propagation: malformed Callguard-Unavailable")

// FormatUnavailable returns the value of Callguard-Unavailable (and of the
// gRPC trailer callguard-unavailable) for dependency dep, expected back in
// d: "payments; for=5s", or "payments" when d ≤ 0 (unknown). It returns ""
// for a name that [ValidDependency] refuses.
func FormatUnavailable(dep string, d time.Duration) string {
	if !ValidDependency(dep) {
		return ""
	}
	if d <= 0 {
		return dep
	}
	return dep + "; for=" + min(d, maxFor).Round(time.Millisecond).String()
}

// ParseUnavailable parses a value of Callguard-Unavailable: a dependency
// name, then optional parameters "; name=value", of which it reads "for", a
// Go duration (0 when absent), and ignores the others. A malformed value is
// an error; a duration over an hour is an hour.
func ParseUnavailable(s string) (dep string, d time.Duration, err error) {
	name, params, _ := strings.Cut(s, ";")
	dep = strings.TrimSpace(name)
	if !ValidDependency(dep) {
		return "", 0, errUnavailable
	}
	for i := 0; params != "" && i < 8; i++ {
		var p string
		p, params, _ = strings.Cut(params, ";")
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || k != "for" {
			continue
		}
		if d, err = time.ParseDuration(v); err != nil || d < 0 {
			return "", 0, errUnavailable
		}
	}
	return dep, min(d, maxFor), nil
}

// ValidDependency reports whether dep can name a dependency on the wire:
// 1 to [MaxDependencyLen] letters, digits, '.', '_' or '-'.
func ValidDependency(dep string) bool {
	if dep == "" || len(dep) > MaxDependencyLen {
		return false
	}
	for i := 0; i < len(dep); i++ {
		switch c := dep[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// DownstreamReason is the value of Callguard-Error (HTTP) and of the
// callguard-error trailer (gRPC) on a refusal for load that a server
// passed on from its own calls, rather than made itself: the caller's
// error matches [callguard.ErrDownstream] (see [Downstream]).
const DownstreamReason = "downstream"

// Downstream returns err, a callee's refusal that says "downstream",
// marked so that it matches [callguard.ErrDownstream]; it keeps err's
// class.
func Downstream(err error) error { return &downstream{err} }

type downstream struct{ err error }

func (e *downstream) Error() string        { return e.err.Error() }
func (e *downstream) Unwrap() error        { return e.err }
func (e *downstream) Is(target error) bool { return target == callguard.ErrDownstream }

// A Dependency is the setting of the adapters' WithDependency options: the
// name of the service that a client calls, and the errors that mean it is
// down.
type Dependency struct {
	name string
	down []error
}

// NewDependency returns the setting of pkg's WithDependency(name, down...).
// It panics, with a message that starts with pkg, if name is not a valid
// dependency name or down is empty.
func NewDependency(pkg, name string, down []error) *Dependency {
	if !ValidDependency(name) {
		panic(pkg + `: WithDependency: invalid dependency name "` + name + `"`)
	}
	if len(down) == 0 {
		panic(pkg + ": WithDependency: no error given that means " + name + " is down")
	}
	return &Dependency{name: name, down: down}
}

// Named returns err, the failure of a call to d's dependency, wrapped in a
// [*route.UnavailableError] if it matches one of the errors that mean the
// dependency is down. A nil d returns err.
func (d *Dependency) Named(err error) error {
	if d == nil || err == nil {
		return err
	}
	for _, target := range d.down {
		if errors.Is(err, target) {
			return &route.UnavailableError{Dependency: d.name, Err: err}
		}
	}
	return err
}

// UnavailableValue returns the Callguard-Unavailable value (HTTP header,
// gRPC trailer) for err, an overloaded error that a server answers, or ""
// when err names no dependency that is down (see [route.Down]).
func UnavailableValue(err error) string {
	if dep, d, ok := route.Down(err); ok {
		return FormatUnavailable(dep, d)
	}
	return ""
}
