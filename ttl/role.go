package ttl

import "github.com/callguard/callguard"

// CallguardRole returns [callguard.RoleLoopCheck] for a TTL with a service
// id, which checks inbound requests and so belongs in a server's pipeline
// ([callguard.CheckClient] refuses it in a client's), and
// [callguard.RoleNone] for one without.
func (t *TTL) CallguardRole() callguard.Role {
	if t.service != "" {
		return callguard.RoleLoopCheck
	}
	return callguard.RoleNone
}

// CallguardRole returns [callguard.RoleHopGuard]: a Guard checks the calls a
// client sends.
func (*Guard) CallguardRole() callguard.Role { return callguard.RoleHopGuard }
