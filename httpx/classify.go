package httpx

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/internal/classify"
	"github.com/callguard/callguard/internal/propagation"
)

// Headers of the callguard wire protocol that httpx reads and writes
// (docs/design.md, "Wire protocol"), in canonical form.
const (
	headerPushback   = "Callguard-Pushback" // ms; negative: don't retry
	headerError      = "Callguard-Error"    // "loop" or "hops"
	headerRetryAfter = "Retry-After"
)

// Classify is the transport's default classification of an attempt's
// outcome: it returns nil for a success and otherwise the error that the
// policy sees. req is the caller's request; exactly one of resp and err is
// non-nil. It never reads the body.
//
//   - A transport error that the caller made before anything reached the
//     network is [callguard.Permanent]: an unsupported scheme, an invalid
//     method, header or URL that net/http refuses to send, a server
//     certificate that does not verify (an unknown authority, a wrong
//     host name). No retry can fix it, and it says nothing about the
//     server's health.
//   - Any other transport error (no response) is a failure. It is retried if the
//     request was never sent (a dial error: a *net.OpError with Op "dial")
//     or is idempotent (see below); otherwise it is wrapped in
//     [callguard.NoRetry]: the server may have acted on it.
//   - 429 and 503 with a pushback, and 429 without one, are the server's
//     refusals for load: [callguard.Overloaded], which a breaker does not
//     count and a throttle does. Callguard-Pushback (milliseconds, read by
//     [callguard.ParsePushback]; negative or malformed means "don't retry",
//     Overloaded with delay 0) takes precedence over Retry-After (read by
//     [ParseRetryAfter]). A delay is capped at [callguard.MaxPushback]. A
//     429 without a delay is not retried: another attempt soon after would
//     only add to the load that was refused (gRPC does not retry
//     ResourceExhausted either unless told to). A 503 without a pushback,
//     or with a zero delay, is an ordinary retryable failure: a proxy's
//     503 for a dead upstream is breakage, not load.
//   - 502 and 504 are retryable failures, but a 504 with a "don't retry"
//     Callguard-Pushback is the server's refusal for want of time (its
//     [WithMinServiceTime], or [github.com/callguard/callguard/loadshed.ErrDeadline]): it is
//     [callguard.Permanent] (a retry would have less time still, and the
//     refusal says nothing about the server's health) and matches
//     [github.com/callguard/callguard/loadshed.ErrDeadline].
//   - 508 with Callguard-Error "loop" or "hops" is [callguard.Permanent]:
//     a call-path loop or an exhausted hop budget is not retried by anyone.
//     Its *StatusError wraps a [*ttl.LoopError], with the loop's path from
//     the response's Callguard-Path, or [ttl.ErrExhausted].
//   - Any other 5xx (500, 501, …) is a failure, retried only if the request
//     is idempotent, else [callguard.NoRetry].
//   - Any other 4xx is [callguard.Permanent]: neither retried nor counted
//     by a breaker.
//   - 1xx, 2xx and 3xx are successes.
//
// A request is idempotent if its method is GET, HEAD, OPTIONS, TRACE, PUT
// or DELETE, or if it has an Idempotency-Key or X-Idempotency-Key header
// (the rule net/http uses for its own retries). Response errors carry a
// [*StatusError].
func Classify(req *http.Request, resp *http.Response, err error) error {
	return classifyWith(req, resp, err, callguard.MaxPushback)
}

// ResponseError returns the error that resp stands for, as [Classify]
// sees it (with resp.Request as the request), or nil for a 1xx, 2xx or 3xx
// response. The transport hands the caller the last response it got, with
// a nil error, as a RoundTripper must, even when the policy gave up on it;
// ResponseError is how the caller turns it into an error, to return or to
// pass on with [Error]:
//
//	resp, err := client.Do(req)
//	if err == nil {
//		err = httpx.ResponseError(resp) // 508 loop: a *ttl.LoopError with the path
//	}
//
// It does not read or close the body.
func ResponseError(resp *http.Response) error {
	req := resp.Request
	if req == nil {
		req = noRequest
	}
	return classifyWith(req, resp, nil, callguard.MaxPushback)
}

// noRequest stands for the unknown request of a response: a GET.
var noRequest = &http.Request{Method: http.MethodGet}

func classifyWith(req *http.Request, resp *http.Response, err error, maxPushback time.Duration) error {
	if err != nil {
		if callerError(err) {
			return callguard.Permanent(err)
		}
		if neverSent(err) || idempotent(req) {
			return err
		}
		return callguard.NoRetry(err)
	}
	code := resp.StatusCode
	if code < 400 {
		return nil
	}
	se := newStatusError(resp)
	if se.Reason == propagation.DownstreamReason {
		return propagation.Downstream(classifyStatus(req, resp, se, maxPushback))
	}
	return classifyStatus(req, resp, se, maxPushback)
}

// classifyStatus classifies a response with status ≥ 400, whose error is se.
func classifyStatus(req *http.Request, resp *http.Response, se *StatusError, maxPushback time.Duration) error {
	code := resp.StatusCode
	switch {
	case code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable:
		if d, ok := pushback(resp.Header, maxPushback); ok {
			return reported(resp.Header, callguard.Overloaded(d, se))
		}
		if code == http.StatusTooManyRequests {
			return callguard.Overloaded(0, se)
		}
		return reported(resp.Header, se)
	case code == http.StatusGatewayTimeout:
		if d, ok := pushback(resp.Header, maxPushback); ok && d == 0 {
			return classify.MarkTooLate(se) // refused for want of time
		}
		return se
	case code == http.StatusBadGateway:
		return se
	case code < 500, se.Reason != "" && code == http.StatusLoopDetected:
		return callguard.Permanent(se)
	case idempotent(req):
		return se
	}
	return callguard.NoRetry(se)
}

// pushback reads the pushback of an overloaded response. ok is false when
// the response carries no usable one: no header, or a delay of zero (after
// the cap), which is an ordinary failure. ok with d == 0 means "don't
// retry".
func pushback(h http.Header, maxPushback time.Duration) (d time.Duration, ok bool) {
	if v := h[headerPushback]; len(v) > 0 {
		d, retry := callguard.ParsePushback(v[0])
		if !retry {
			return 0, true
		}
		d = min(d, maxPushback)
		return d, d > 0
	}
	if v := h[headerRetryAfter]; len(v) > 0 {
		d, ok := ParseRetryAfter(v[0], time.Now())
		d = min(d, maxPushback)
		return d, ok && d > 0
	}
	return 0, false
}

// ParseRetryAfter parses the value of a Retry-After header (RFC 9110,
// section 10.2.3): a number of seconds, or an HTTP-date, taken relative to
// now. It returns the delay and true, or 0 and false for a value that is
// neither. A date in the past gives 0; delays are clamped to
// [callguard.MaxPushback]. Surrounding spaces are ignored; values longer
// than 64 bytes are rejected unread. It never panics.
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" || len(v) > 64 {
		return 0, false
	}
	if isDigits(v) {
		const maxSecs = int64(callguard.MaxPushback / time.Second)
		var secs int64
		for i := 0; i < len(v) && secs <= maxSecs; i++ {
			secs = secs*10 + int64(v[i]-'0')
		}
		return time.Duration(min(secs, maxSecs)) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return min(max(t.Sub(now), 0), callguard.MaxPushback), true
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// idempotent reports whether req may be sent again after it may have
// reached the server.
func idempotent(req *http.Request) bool {
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace,
		http.MethodPut, http.MethodDelete:
		return true
	}
	if _, ok := req.Header["Idempotency-Key"]; ok {
		return true
	}
	_, ok := req.Header["X-Idempotency-Key"]
	return ok
}

// refusals are the messages of net/http's Transport for a request that it
// refuses to send, for which it has no error types.
var refusals = [...]string{
	"unsupported protocol scheme",
	"net/http: invalid header",
	"net/http: invalid trailer",
	"net/http: invalid method",
	"http: no Host in request URL",
	"http: nil Request.",
}

// callerError reports whether err is the caller's own, found before
// anything reached the network (or, for a certificate, before a request
// did): a request that net/http refuses to send, or a server certificate
// that does not verify.
func callerError(err error) bool {
	var cv *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	var ci x509.CertificateInvalidError
	if errors.As(err, &cv) || errors.As(err, &ua) || errors.As(err, &he) || errors.As(err, &ci) {
		return true
	}
	msg := err.Error()
	for _, r := range refusals {
		if strings.Contains(msg, r) {
			return true
		}
	}
	return false
}

// neverSent reports whether err shows that the request was not sent: the
// connection could not be made.
func neverSent(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}
