package timeout

import "github.com/callguard/callguard"

// CallguardRole returns [callguard.RoleOverallTimeout] for a Timeout made
// with [WithOverall], which belongs outside retry, and
// [callguard.RoleAttemptTimeout] for any other, which belongs inside it
// (see [callguard.CheckClient]).
func (t *Timeout) CallguardRole() callguard.Role {
	if t.overall {
		return callguard.RoleOverallTimeout
	}
	return callguard.RoleAttemptTimeout
}
