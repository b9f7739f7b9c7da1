package callguardtest

import (
	"math/rand/v2"
	"strconv"
)

// A Fault is what a flaky server does with a request instead of serving
// it. Each has an HTTP and a gRPC form, so that the same [Script] drives
// either server.
type Fault uint8

// Faults. The answers are the ones callguard's adapters send and
// understand, so a client pipeline classifies them as it would a real
// server's.
const (
	// Serve runs the handler: no fault.
	Serve Fault = iota
	// Fail answers as a broken server: HTTP 500, gRPC Internal. A breaker
	// counts it; retry repeats it only for idempotent requests.
	Fail
	// Unavailable answers as a server that is down for a moment: HTTP 503
	// without a pushback, gRPC Unavailable. Retried, and counted by a
	// breaker.
	Unavailable
	// Shed answers as a server that sheds load: HTTP 503 with a
	// Callguard-Pushback header, gRPC Unavailable with a
	// grpc-retry-pushback-ms trailer. The pushback is "-1", don't retry,
	// unless [WithPushback] sets a delay. A throttle counts it, a breaker
	// does not.
	Shed
	// Hang holds the request until the caller gives up (its context, or the
	// connection, ends) and answers nothing useful: the fault a timeout is
	// for.
	Hang
	// Reset closes the connection without an answer (HTTP only; a gRPC
	// server answers Unavailable instead).
	Reset
)

var faultNames = [...]string{"Serve", "Fail", "Unavailable", "Shed", "Hang", "Reset"}

// String returns the fault's name.
func (f Fault) String() string {
	if int(f) < len(faultNames) {
		return faultNames[f]
	}
	return "Fault(" + strconv.Itoa(int(f)) + ")"
}

// A Script decides the fault for the n-th request a server receives,
// counting from 1. Servers call it from many goroutines at once; the
// Scripts of this package are safe for that, and a Script of your own must
// be too.
type Script func(n int) Fault

// Always gives every request the fault f.
func Always(f Fault) Script { return func(int) Fault { return f } }

// First gives the first k requests the fault f and serves the rest: "fail
// twice, then succeed" is First(2, Unavailable).
func First(k int, f Fault) Script {
	return func(n int) Fault {
		if n <= k {
			return f
		}
		return Serve
	}
}

// Every gives every k-th request (k, 2k, ...) the fault f and serves the
// rest. It panics if k < 1.
func Every(k int, f Fault) Script {
	if k < 1 {
		panic("callguardtest: Every(k) needs k ≥ 1, got " + strconv.Itoa(k))
	}
	return func(n int) Fault {
		if n%k == 0 {
			return f
		}
		return Serve
	}
}

// Sequence gives the n-th request fs[n-1], and serves every request after
// the last.
func Sequence(fs ...Fault) Script {
	fs = append([]Fault(nil), fs...)
	return func(n int) Fault {
		if n <= len(fs) {
			return fs[n-1]
		}
		return Serve
	}
}

// Rate gives each request the fault f with probability p, drawn from a
// random source seeded with seed, so that a run can be repeated: with
// requests in the same order, the same requests fail. It panics unless
// 0 ≤ p ≤ 1.
func Rate(p float64, f Fault, seed uint64) Script {
	if !(p >= 0 && p <= 1) {
		panic("callguardtest: Rate(p) needs 0 ≤ p ≤ 1, got " + strconv.FormatFloat(p, 'g', -1, 64))
	}
	return func(n int) Fault {
		// One PCG per request, keyed by n: no shared state, so concurrent
		// requests need no lock and request n's draw never depends on the
		// order in which the others arrive.
		if rand.New(rand.NewPCG(seed, uint64(n))).Float64() < p {
			return f
		}
		return Serve
	}
}
