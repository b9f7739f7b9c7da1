package timeout

import (
	"errors"
	"math"
	"time"

	"github.com/callguard/callguard/internal/wire"
)

// Header is the HTTP header, "Callguard-Timeout", that carries a request's
// remaining time from caller to callee. gRPC carries deadlines natively, in
// grpc-timeout.
const Header = wire.TimeoutHeader

// maxValue is the largest number the grpc-timeout syntax allows: 8 digits.
const maxValue = 99999999

// AppendWire appends d in the grpc-timeout syntax (1 to 8 digits and a unit:
// H, M, S, m, u or n) to b, in the finest unit that fits, rounding up so the
// callee never sees more time than there is. d ≤ 0 appends "0n". It
// allocates nothing when b has room.
func AppendWire(b []byte, d time.Duration) []byte {
	if d <= 0 {
		return append(b, '0', 'n')
	}
	units := [...]struct {
		unit time.Duration
		c    byte
	}{{time.Nanosecond, 'n'}, {time.Microsecond, 'u'}, {time.Millisecond, 'm'},
		{time.Second, 'S'}, {time.Minute, 'M'}, {time.Hour, 'H'}}
	for _, u := range units {
		v := d / u.unit
		if d%u.unit != 0 {
			v++ // round up: the callee never gets more time than there is
		}
		if v <= maxValue || u.c == 'H' {
			return appendUint(b, uint64(min(v, maxValue)), u.c)
		}
	}
	panic("unreachable")
}

// FormatWire returns d in the grpc-timeout syntax, as [AppendWire] does.
func FormatWire(d time.Duration) string {
	var buf [12]byte
	return string(AppendWire(buf[:0], d))
}

func appendUint(b []byte, v uint64, unit byte) []byte {
	var buf [20]byte
	i := len(buf)
	for {
		i--
		buf[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	return append(append(b, buf[i:]...), unit)
}

var errWire = errors.New("timeout: value is not 1 to 8 digits and a unit (H, M, S, m, u, n)")

// ParseWire parses a value in the grpc-timeout syntax. Anything else is an
// error, and the callee ignores the value; a value too large for a
// time.Duration is clamped to the largest one.
func ParseWire(s string) (time.Duration, error) {
	if len(s) < 2 || len(s) > 9 {
		return 0, errWire
	}
	var unit time.Duration
	switch s[len(s)-1] {
	case 'H':
		unit = time.Hour
	case 'M':
		unit = time.Minute
	case 'S':
		unit = time.Second
	case 'm':
		unit = time.Millisecond
	case 'u':
		unit = time.Microsecond
	case 'n':
		unit = time.Nanosecond
	default:
		return 0, errWire
	}
	var v int64
	for i := 0; i < len(s)-1; i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, errWire
		}
		v = v*10 + int64(c-'0')
	}
	if v > math.MaxInt64/int64(unit) {
		return math.MaxInt64, nil
	}
	return time.Duration(v) * unit, nil
}
