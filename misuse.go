package callguard

import (
	"errors"
	"strconv"
)

// ErrMisuse is matched, with errors.Is, by every error of [CheckClient] and
// [CheckServer]: a policy on the wrong side of a call or in the wrong
// order.
var ErrMisuse = errors.New("callguard: policy misplaced")

// A MisuseError reports one misplaced policy. It matches [ErrMisuse].
type MisuseError struct {
	Role   Role   // the misplaced policy's role
	Index  int    // its position in the flattened pipeline, from 1 (outermost)
	Reason string // what goes wrong, and where the policy belongs
}

func (e *MisuseError) Error() string {
	return "callguard: " + e.Role.String() + " (policy " + strconv.Itoa(e.Index) + ") " + e.Reason
}

// Is reports whether target is [ErrMisuse].
func (e *MisuseError) Is(target error) bool { return target == ErrMisuse }

// CheckClient reports whether p may run around the calls a service makes.
// It returns nil, or one [*MisuseError] per misplaced policy (joined with
// [errors.Join]) when p, or a [Pipeline] nested in it:
//
//   - holds a loop check (a ttl.TTL with a service id), which checks
//     inbound requests: a client uses ttl.NewGuard;
//   - holds a breaker or a per-attempt timeout outside retry, or an overall
//     timeout (timeout.WithOverall) inside it;
//   - holds two retries, one inside the other, whose attempts multiply;
//   - holds a hedge outside retry, each of whose copies would retry.
//
// The adapters' client constructors and package stack call it and panic
// with its error, so that a misplaced policy is refused when the pipeline
// is built, not found in production. A nil p is valid.
func CheckClient(p Policy) error {
	roles := flatten(p, nil)
	var errs []error
	for i, r := range roles {
		if r == RoleLoopCheck {
			errs = append(errs, &MisuseError{Role: r, Index: i + 1,
				Reason: "in a client pipeline: it checks inbound requests and belongs first in a server pipeline; a client uses ttl.NewGuard()"})
		}
	}
	return errors.Join(append(errs, checkOrder(roles)...)...)
}

// CheckServer reports whether p may run around the requests a service
// serves. It returns nil, or one [*MisuseError] per misplaced policy, when
// p holds a retry or a hedge: a server that retries multiplies the retries of every
// tier above it, so only the pipelines of outgoing calls retry. The order
// rules of [CheckClient] apply too.
//
// The adapters' server constructors and package stack call it and panic
// with its error. A nil p is valid.
func CheckServer(p Policy) error {
	roles := flatten(p, nil)
	var errs []error
	for i, r := range roles {
		if r == RoleRetry {
			errs = append(errs, &MisuseError{Role: r, Index: i + 1,
				Reason: "in a server pipeline: a server that retries multiplies its callers' retries tier by tier; retry belongs in the pipeline of the calls the service makes"})
		}
		if r == RoleHedge {
			errs = append(errs, &MisuseError{Role: r, Index: i + 1,
				Reason: "in a server pipeline: it would run the handler twice at once; hedge belongs in the pipeline of the calls the service makes"})
		}
	}
	return errors.Join(append(errs, checkOrder(roles)...)...)
}

// flatten appends the roles of p's policies to roles, outermost first,
// looking into nested pipelines.
func flatten(p Policy, roles []Role) []Role {
	switch p := p.(type) {
	case nil:
		return roles
	case *Pipeline:
		if p == nil {
			return roles
		}
		for _, q := range p.policies {
			roles = flatten(q, roles)
		}
		return roles
	}
	return append(roles, RoleOf(p))
}

// checkOrder returns the order errors of roles, which are outermost first.
func checkOrder(roles []Role) []error {
	var errs []error
	outer := 0 // position of the outermost retry, from 1; 0 until one is seen
	for i, r := range roles {
		if r != RoleRetry {
			continue
		}
		if outer != 0 {
			errs = append(errs, &MisuseError{Role: r, Index: i + 1,
				Reason: "inside retry (policy " + strconv.Itoa(outer) + "): attempts multiply (3 × 3 = 9); keep one retry per pipeline"})
			continue
		}
		outer = i + 1
	}
	if outer == 0 {
		return errs
	}
	at := " retry (policy " + strconv.Itoa(outer) + ")"
	for i, r := range roles {
		inside := i+1 > outer
		var reason string
		switch {
		case r == RoleBreaker && !inside:
			reason = "outside" + at + ": it counts one result per call, not per attempt, so retries hammer a broken callee before the breaker opens; put it inside retry"
		case r == RoleAttemptTimeout && !inside:
			reason = "outside" + at + ": it bounds all attempts together, and a slow first attempt leaves no time for the others; put it inside retry, or declare an overall timeout with timeout.WithOverall()"
		case r == RoleHedge && !inside:
			reason = "outside" + at + ": each copy it sends would run a round of retries of its own; put it inside retry"
		case r == RoleOverallTimeout && inside:
			reason = "inside" + at + ": it times each attempt, not the whole call; put it outside retry, or drop timeout.WithOverall() for a per-attempt timeout"
		default:
			continue
		}
		errs = append(errs, &MisuseError{Role: r, Index: i + 1, Reason: reason})
	}
	return errs
}
