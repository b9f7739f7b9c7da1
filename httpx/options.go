package httpx

import (
	"net/http"
	"time"

	"github.com/callguard/callguard"
)

// An Option configures [NewTransport] or [Handler]. Each option says which
// of the two it applies to; the other ignores it.
type Option interface{ apply(*options) }

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

type options struct {
	classifier  func(*http.Request, *http.Response, error) error // nil: the default, with maxPushback
	maxPushback time.Duration
}

func newOptions(opts []Option) options {
	o := options{maxPushback: callguard.MaxPushback}
	for _, opt := range opts {
		opt.apply(&o)
	}
	if o.maxPushback < 0 {
		panic("httpx: max pushback must be >= 0, got " + o.maxPushback.String())
	}
	return o
}

// WithClassifier replaces the transport's classification of each attempt's
// outcome (see [Classify] for the default, which f may call for the cases
// it does not handle). f gets the caller's request and either the
// attempt's response or its transport error, and returns nil for a
// success, or the error that the policy sees: a failure to retry and count,
// a [callguard.NoRetry] failure, a [callguard.Permanent] error, or a
// [callguard.Overloaded] one. f must not read or close the response body.
// The default, and f == nil, is the default classification with the cap of
// [WithMaxPushback]. For [NewTransport]; f must be safe for concurrent use.
func WithClassifier(f func(req *http.Request, resp *http.Response, err error) error) Option {
	return optionFunc(func(o *options) { o.classifier = f })
}

// WithMaxPushback caps the delay that the default classification reads
// from a Retry-After or Callguard-Pushback header of a 429 or 503 response.
// The default is [callguard.MaxPushback] (1 h): the transport passes the
// callee's wish on, and the retry policy applies its own, smaller cap
// (retry.WithMaxPushback, 10 s by default). Zero means delays are ignored:
// such a response is an ordinary retryable failure, while an explicit
// "don't retry" (Callguard-Pushback: -1) is still honoured. For
// [NewTransport]; [NewTransport] panics if d < 0.
func WithMaxPushback(d time.Duration) Option {
	return optionFunc(func(o *options) { o.maxPushback = d })
}
