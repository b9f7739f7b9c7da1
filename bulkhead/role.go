package bulkhead

import "github.com/callguard/callguard"

// CallguardRole returns [callguard.RoleBulkhead]: a Bulkhead may run on
// either side of a call.
func (*Bulkhead) CallguardRole() callguard.Role { return callguard.RoleBulkhead }
