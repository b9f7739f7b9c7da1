package ttl

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/callguard/callguard/internal/wire"
)

// Limits of the wire format. They bound what a hostile or broken header can
// make a server hold.
const (
	// MaxHops is the largest hop budget a header can carry; larger values
	// are clamped to it.
	MaxHops = 255
	// MaxPathEntries is the most service ids a path keeps.
	MaxPathEntries = 64
	// MaxPathBytes is the longest path, in bytes, a path keeps.
	MaxPathBytes = 1024
	// MaxServiceLen is the longest service id.
	MaxServiceLen = 32
)

// Header and metadata names of the wire protocol. The adapters read and
// write them; [FormatHops], [ParseHops], [FormatPath] and [ParsePath] are
// the codec.
const (
	HopsHeader    = wire.HopsHeader    // "Callguard-Hops"
	PathHeader    = wire.PathHeader    // "Callguard-Path"
	ErrorHeader   = wire.ErrorHeader   // "Callguard-Error"
	HopsMetadata  = wire.HopsMetadata  // "callguard-hops"
	PathMetadata  = wire.PathMetadata  // "callguard-path"
	ErrorMetadata = wire.ErrorMetadata // "callguard-error"
)

// FormatHops formats a hop budget for the Callguard-Hops header: decimal,
// clamped to [0, MaxHops].
func FormatHops(n int) string {
	return strconv.Itoa(min(max(n, 0), MaxHops))
}

// ParseHops parses a Callguard-Hops value: a decimal integer, with optional
// surrounding spaces. Values above [MaxHops] are clamped to it. Anything
// else — empty, negative, signs, non-digits — is an error, and the caller
// falls back to its default budget.
func ParseHops(s string) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New("ttl: empty hop count")
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("ttl: hop count %.40q is not a decimal number", s)
		}
		if n <= MaxHops {
			n = n*10 + int(c-'0')
		}
	}
	return min(n, MaxHops), nil
}

// ValidService reports whether id is a valid service id: 1 to
// [MaxServiceLen] letters, digits, '.', '_' or '-'.
func ValidService(id string) bool {
	if len(id) == 0 || len(id) > MaxServiceLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if !idByte(id[i]) {
			return false
		}
	}
	return true
}

func idByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '.' || c == '_' || c == '-'
}

// FormatPath formats a call path for the Callguard-Path header: service ids
// joined by commas. Invalid ids are skipped; only the last
// [MaxPathEntries] ids that fit in [MaxPathBytes] are kept.
func FormatPath(ids []string) string {
	var b strings.Builder
	n, size := 0, 0
	start := len(ids)
	for start > 0 && n < MaxPathEntries {
		id := ids[start-1]
		if ValidService(id) {
			if size+len(id)+1 > MaxPathBytes+1 {
				break
			}
			size += len(id) + 1
			n++
		}
		start--
	}
	for _, id := range ids[start:] {
		if !ValidService(id) {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(id)
	}
	return b.String()
}

// ParsePath parses a Callguard-Path value into service ids. Spaces around
// ids are allowed (proxies join repeated headers with ", "); an empty value
// is an empty path. An invalid id anywhere makes the whole value invalid,
// and so does a value longer than 4×[MaxPathBytes] bytes, which no sender
// that keeps to the bounds makes: the caller ignores an invalid value and
// treats the path as empty (the hop budget still bounds the request). A
// valid path of more than [MaxPathEntries] ids or [MaxPathBytes] bytes
// keeps only its most recent ids.
func ParsePath(s string) ([]string, error) {
	canon, err := canonicalPath(s)
	if err != nil || canon == "" {
		return nil, err
	}
	return strings.Split(canon, ","), nil
}

// maxPathValue is the longest path value that canonicalPath reads; a
// longer one is invalid, so that a hostile header costs no more work.
const maxPathValue = 4 * MaxPathBytes

// canonicalPath validates a path value and returns it without spaces and
// within the bounds. It allocates only when the value has spaces.
func canonicalPath(s string) (string, error) {
	if len(s) > maxPathValue {
		return "", fmt.Errorf("ttl: path of %d bytes is longer than %d", len(s), maxPathValue)
	}
	clean := true
	entries := 0
	for rest := s; ; {
		id, tail, more := strings.Cut(rest, ",")
		if t := strings.Trim(id, " \t"); t != id { // the spaces that the Map below drops
			clean = false
			id = t
		}
		if id == "" && !more && entries == 0 {
			return "", nil // empty path
		}
		if !ValidService(id) {
			return "", fmt.Errorf("ttl: invalid service id %.40q in path", id)
		}
		entries++
		if !more {
			break
		}
		rest = tail
	}
	if !clean {
		s = strings.Map(func(r rune) rune {
			if r == ' ' || r == '\t' {
				return -1
			}
			return r
		}, s)
	}
	for entries > MaxPathEntries || len(s) > MaxPathBytes {
		s = s[strings.IndexByte(s, ',')+1:]
		entries--
	}
	return s, nil
}

// pathContains reports whether the comma list path holds id. It allocates
// nothing.
func pathContains(path, id string) bool {
	for path != "" {
		var e string
		e, path, _ = strings.Cut(path, ",")
		if e == id {
			return true
		}
	}
	return false
}
