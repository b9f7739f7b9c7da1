package callguard

import (
	"strconv"
	"time"
)

// MaxPushback is the largest delay [ParsePushback] returns; larger values
// are clamped to it. A callee cannot park its callers for longer than this.
const MaxPushback = time.Hour

// ParsePushback parses a pushback value: a decimal count of milliseconds, as
// carried by the Callguard-Pushback header and gRPC's grpc-retry-pushback-ms
// trailer (gRFC A6). It reports the delay and whether the callee allows a
// retry after it.
//
// As in gRFC A6, a negative value, or one that is not a decimal integer,
// means "do not retry": ParsePushback returns 0, false. Surrounding spaces
// and a leading '+' are accepted; values over [MaxPushback] are clamped.
func ParsePushback(s string) (delay time.Duration, retry bool) {
	s = trimSpace(s)
	if s == "" || len(s) > 32 {
		return 0, false
	}
	neg := s[0] == '-'
	if s[0] == '+' || neg {
		s = s[1:]
	}
	if s == "" {
		return 0, false
	}
	var ms int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if ms < int64(MaxPushback/time.Millisecond) {
			ms = ms*10 + int64(c-'0')
		}
	}
	if neg {
		return 0, false
	}
	d := time.Duration(ms) * time.Millisecond
	if d > MaxPushback {
		d = MaxPushback
	}
	return d, true
}

// FormatPushback formats d for the Callguard-Pushback header or the
// grpc-retry-pushback-ms trailer: whole milliseconds, rounded up, or "-1"
// ("do not retry") when d ≤ 0.
func FormatPushback(d time.Duration) string {
	if d <= 0 {
		return "-1"
	}
	if d > MaxPushback {
		d = MaxPushback
	}
	ms := (d + time.Millisecond - 1) / time.Millisecond
	return strconv.FormatInt(int64(ms), 10)
}

func trimSpace(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}
