package breaker

import "github.com/callguard/callguard"

// CallguardRole returns [callguard.RoleBreaker]: a Breaker belongs inside
// retry, so that it counts each attempt (see [callguard.CheckClient]).
func (*Breaker) CallguardRole() callguard.Role { return callguard.RoleBreaker }
