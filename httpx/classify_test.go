package httpx

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/callguard/callguard"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		give   string
		want   time.Duration
		wantOK bool
	}{
		{"0", 0, true},
		{"120", 2 * time.Minute, true},
		{" 7 ", 7 * time.Second, true},
		{"3600", time.Hour, true},
		{"3601", callguard.MaxPushback, true},
		{"99999999999999999999999999", callguard.MaxPushback, true},
		{"Sun, 01 Jun 2025 12:00:30 GMT", 30 * time.Second, true}, // IMF-fixdate
		{"Sunday, 01-Jun-25 12:01:00 GMT", time.Minute, true},     // RFC 850
		{"Sun Jun  1 12:00:05 2025", 5 * time.Second, true},       // ANSI C asctime
		{"Sun, 01 Jun 2025 11:00:00 GMT", 0, true},                // past
		{"Fri, 01 Jun 2125 12:00:00 GMT", callguard.MaxPushback, true},
		{"", 0, false},
		{"-1", 0, false},
		{"1.5", 0, false},
		{"+5", 0, false},
		{"soon", 0, false},
		{"Sun, 01 Jun 2025 12:00:30", 0, false},
	}
	for _, tt := range tests {
		got, ok := ParseRetryAfter(tt.give, now)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("ParseRetryAfter(%q) = %v, %v, want %v, %v", tt.give, got, ok, tt.want, tt.wantOK)
		}
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"0", "120", "-1", "99999999999999999999", "Sun, 01 Jun 2025 12:00:30 GMT",
		"Sunday, 01-Jun-25 12:01:00 GMT", "Sun Jun  1 12:00:05 2025", "Mon, 31 Dec 9999 23:59:59 GMT", " 5 ", "x"} {
		f.Add(s)
	}
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := ParseRetryAfter(s, now)
		if d < 0 || d > callguard.MaxPushback || (!ok && d != 0) {
			t.Errorf("ParseRetryAfter(%q) = %v, %v: out of range", s, d, ok)
		}
	})
}

func TestClassify(t *testing.T) {
	resp := func(code int, header ...string) *http.Response {
		h := http.Header{}
		for i := 0; i+1 < len(header); i += 2 {
			h.Set(header[i], header[i+1])
		}
		return &http.Response{StatusCode: code, Status: fmt.Sprintf("%d %s", code, http.StatusText(code)), Header: h}
	}
	get, _ := http.NewRequest(http.MethodGet, "http://x/", nil)
	post, _ := http.NewRequest(http.MethodPost, "http://x/", nil)
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	read := &net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset")}

	const (
		success = iota
		retryable
		noRetry
		permanent
		overloaded // with a delay: retryable after it
		dontRetry  // overloaded without a delay
	)
	tests := []struct {
		name  string
		req   *http.Request
		resp  *http.Response
		err   error
		want  int
		delay time.Duration
	}{
		{"200", post, resp(200), nil, success, 0},
		{"304", get, resp(304), nil, success, 0},
		{"dial error POST", post, nil, dial, retryable, 0},
		{"read error GET", get, nil, read, retryable, 0},
		{"read error POST", post, nil, read, noRetry, 0},
		{"500 GET", get, resp(500), nil, retryable, 0},
		{"500 POST", post, resp(500), nil, noRetry, 0},
		{"502 POST", post, resp(502), nil, retryable, 0},
		{"504 POST", post, resp(504), nil, retryable, 0},
		{"504 too late", get, resp(504, "Callguard-Pushback", "-1"), nil, permanent, 0},
		{"504 pushback delay", get, resp(504, "Callguard-Pushback", "200"), nil, retryable, 0},
		{"503", post, resp(503), nil, retryable, 0},
		{"503 Retry-After", post, resp(503, "Retry-After", "3"), nil, overloaded, 3 * time.Second},
		{"429 pushback", post, resp(429, "Callguard-Pushback", "250"), nil, overloaded, 250 * time.Millisecond},
		{"429", get, resp(429), nil, dontRetry, 0},
		{"503 pushback -1", post, resp(503, "Callguard-Pushback", "-1"), nil, dontRetry, 0},
		{"503 pushback 0", post, resp(503, "Callguard-Pushback", "0"), nil, retryable, 0},
		{"503 pushback capped", post, resp(503, "Callguard-Pushback", "99999999999"), nil, overloaded, callguard.MaxPushback},
		{"508 loop", get, resp(508, "Callguard-Error", "loop"), nil, permanent, 0},
		{"508 hops", get, resp(508, "Callguard-Error", "hops"), nil, permanent, 0},
		{"508 plain GET", get, resp(508), nil, retryable, 0},
		{"404", get, resp(404), nil, permanent, 0},
		{"409 POST", post, resp(409), nil, permanent, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Classify(tt.req, tt.resp, tt.err)
			delay, isOverloaded := callguard.Pushback(err)
			var got int
			switch {
			case err == nil:
				got = success
			case callguard.IsPermanent(err):
				got = permanent
			case isOverloaded && delay > 0:
				got = overloaded
			case isOverloaded:
				got = dontRetry
			case callguard.Retryable(err):
				got = retryable
			default:
				got = noRetry
			}
			if got != tt.want || delay != tt.delay {
				t.Errorf("Classify() = %v (class %d, delay %v), want class %d, delay %v", err, got, delay, tt.want, tt.delay)
			}
			var se *StatusError
			if tt.resp != nil && err != nil && (!errors.As(err, &se) || se.StatusCode != tt.resp.StatusCode) {
				t.Errorf("Classify() = %v, want a *StatusError with status %d", err, tt.resp.StatusCode)
			}
		})
	}
}

func TestStatusError(t *testing.T) {
	h := http.Header{}
	h.Set("Callguard-Error", "loop")
	err := Classify(&http.Request{Method: http.MethodGet}, &http.Response{StatusCode: 508, Header: h}, nil)
	const want = "httpx: response status 508 Loop Detected (loop)"
	var se *StatusError
	if !errors.As(err, &se) || err.Error() != want || se.CallguardError() != "loop" {
		t.Errorf("Classify(508 loop) = %q, want %q", err, want)
	}
}
