package retry

import "github.com/callguard/callguard"

// CallguardRole returns [callguard.RoleRetry]: a Retry belongs in a
// client's pipeline, outside its breaker and per-attempt timeout (see
// [callguard.CheckClient]).
func (*Retry) CallguardRole() callguard.Role { return callguard.RoleRetry }
