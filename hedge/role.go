package hedge

import "github.com/callguard/callguard"

// CallguardRole returns [callguard.RoleHedge]: a Hedger belongs in a
// client's pipeline, inside retry. The adapters look for it
// ([callguard.HasRole]) to mark the requests they may hedge.
func (*Hedger) CallguardRole() callguard.Role { return callguard.RoleHedge }
