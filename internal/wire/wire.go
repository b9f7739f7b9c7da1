// Package wire names the HTTP headers and gRPC metadata keys of the callguard
// wire protocol (docs/design.md, "Wire protocol") in one place. It imports
// nothing, so the adapters and the propagation core can use the names
// without linking a policy. The policy packages re-export them as
// documented constants: ttl.HopsHeader, timeout.Header,
// loadshed.PriorityHeader and the others.
package wire

// HTTP headers, in canonical form.
const (
	HopsHeader     = "Callguard-Hops"
	PathHeader     = "Callguard-Path"
	ErrorHeader    = "Callguard-Error"
	PriorityHeader = "Callguard-Priority"
	TimeoutHeader  = "Callguard-Timeout"

	// SyntheticHeader marks a synthetic request (callguard.IsSynthetic):
	// value "1".
	SyntheticHeader = "Callguard-Synthetic"
)

// gRPC metadata keys. gRPC carries the deadline natively, in grpc-timeout.
const (
	HopsMetadata     = "callguard-hops"
	PathMetadata     = "callguard-path"
	ErrorMetadata    = "callguard-error"
	PriorityMetadata = "callguard-priority"

	SyntheticMetadata = "callguard-synthetic"
)

// The number of a retry or a hedge (callguard.Attempt), in decimal, sent
// only above 1: a first attempt carries neither.
const (
	AttemptHeader   = "Callguard-Attempt"
	AttemptMetadata = "callguard-attempt"
)
