package propagation

import "strconv"

// MaxAttempt is the largest attempt number a server takes from its
// callers; a larger or malformed Callguard-Attempt counts as none. No
// policy makes that many attempts of one call.
const MaxAttempt = 1000

// parseAttempt parses an Attempt value: a decimal in [1, MaxAttempt]. It
// returns 0 for anything else (a server then treats the call as a first
// attempt), and never allocates.
func parseAttempt(s string) int {
	if len(s) == 0 || len(s) > 4 {
		return 0
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int(c-'0')
	}
	if n < 1 || n > MaxAttempt {
		return 0
	}
	return n
}

// formatAttempt formats an attempt number for the Attempt field; below
// 100 it allocates nothing (strconv returns a constant).
func formatAttempt(n int) string { return strconv.Itoa(n) }
