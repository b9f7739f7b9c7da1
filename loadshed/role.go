package loadshed

import "github.com/callguard/callguard"

// CallguardRole returns [callguard.RoleLimiter]: a Limiter guards the
// requests a server admits.
func (*Limiter) CallguardRole() callguard.Role { return callguard.RoleLimiter }

// CallguardRole returns [callguard.RoleThrottle]: a Throttle belongs in a
// client's pipeline, one per backend.
func (*Throttle) CallguardRole() callguard.Role { return callguard.RoleThrottle }
