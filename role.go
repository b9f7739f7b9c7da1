package callguard

import "strconv"

// A Role says what a policy is, so that [CheckClient] and [CheckServer] can
// refuse a pipeline whose policies are on the wrong side or in the wrong
// order. A policy declares its role with a method
//
//	CallguardRole() callguard.Role
//
// The policies of this module declare theirs; a policy without the method
// has [RoleNone] and is never refused.
type Role uint8

// Roles of the policies of this module.
const (
	RoleNone           Role = iota // any policy without a rule: Fallback, rate limits, your own
	RoleRetry                      // retry.Retry: clients only
	RoleBreaker                    // breaker.Breaker: inside retry
	RoleBulkhead                   // bulkhead.Bulkhead: either side
	RoleAttemptTimeout             // timeout.Timeout: inside retry, one attempt each
	RoleOverallTimeout             // timeout.Timeout with WithOverall: outside retry
	RoleThrottle                   // loadshed.Throttle: clients only, outside retry
	RoleLimiter                    // loadshed.Limiter: servers only
	RoleLoopCheck                  // ttl.TTL: servers only
	RoleHopGuard                   // ttl.Guard: clients only
	RoleHedge                      // hedge.Hedger: clients only, inside retry
)

var roleNames = [...]string{
	RoleNone:           "policy",
	RoleRetry:          "retry",
	RoleBreaker:        "breaker",
	RoleBulkhead:       "bulkhead",
	RoleAttemptTimeout: "per-attempt timeout",
	RoleOverallTimeout: "overall timeout",
	RoleThrottle:       "throttle (loadshed.Throttle)",
	RoleLimiter:        "limiter (loadshed.Limiter)",
	RoleLoopCheck:      "loop check (ttl.TTL)",
	RoleHopGuard:       "hop guard (ttl.Guard)",
	RoleHedge:          "hedge",
}

// String returns the role's name, as error messages use it.
func (r Role) String() string {
	if int(r) < len(roleNames) {
		return roleNames[r]
	}
	return "role(" + strconv.Itoa(int(r)) + ")"
}

// RoleOf returns the role that p declares, or [RoleNone].
func RoleOf(p Policy) Role {
	if r, ok := p.(interface{ CallguardRole() Role }); ok {
		return r.CallguardRole()
	}
	return RoleNone
}

// HasRole reports whether p, or a [Pipeline] nested in it, holds a policy
// of role r. The adapters ask it once, when they wire p: a transport whose
// policy hedges marks the requests it may send twice at once
// ([ContextSafe]), and one whose policy does not saves the allocation.
func HasRole(p Policy, r Role) bool {
	for _, q := range flatten(p, nil) {
		if q == r {
			return true
		}
	}
	return false
}
