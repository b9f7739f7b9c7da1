package propagation

import (
	"errors"
	"strings"
	"time"

	"github.com/callguard/callguard"
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
