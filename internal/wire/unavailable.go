package wire

// The name of route availability (package route): a server's answer names
// the dependency whose outage made it refuse, and for how long it expects
// the outage to last, as "payments; for=5s". Servers never read it from
// requests.
const (
	UnavailableHeader   = "Callguard-Unavailable"
	UnavailableMetadata = "callguard-unavailable"
)
