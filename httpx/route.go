package httpx

import (
	"net/http"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/internal/propagation"
	cgwire "github.com/callguard/callguard/internal/wire"
	"github.com/callguard/callguard/route"
)

// UnavailableHeader is the response header by which a server names the
// dependency whose outage made it refuse a request, and how long it expects
// the outage to last: "payments; for=5s" (see package route).
const UnavailableHeader = cgwire.UnavailableHeader

// WithDependency names the service that a transport calls, as its caller
// sees it, so that a [Handler] whose handler passes one of its failures on
// with [Error] tells its own callers which dependency is down (header
// Callguard-Unavailable, for the [NewRouteTransport] of the tier above).
//
// down lists the errors, matched with errors.Is, that mean the dependency
// is down, typically breaker.ErrOpen: a failed request whose error matches
// one of them comes back as a [*route.UnavailableError] with the name,
// keeping its class (an open breaker is still answered 503, "don't
// retry"). Do not list refusals for load (a full bulkhead, a throttle's
// or a shed refusal): the tier above would refuse every request of the
// route, turning partial shedding into an outage. WithDependency panics if
// name is not 1 to 64 letters, digits, '.', '_' or '-', or down is empty.
func WithDependency(name string, down ...error) TransportOption {
	d := propagation.NewDependency("httpx", name, down)
	return transportOption(func(o *transportOptions) { o.dependency = d })
}

// setUnavailable sets Callguard-Unavailable on h when err, an overloaded
// error that a server answers, names a dependency that is down.
func setUnavailable(h http.Header, err error) {
	if v := propagation.UnavailableValue(err); v != "" {
		h.Set(cgwire.UnavailableHeader, v)
	}
}

// reported returns err, the error of a 503 whose header h came with it, as
// a [*route.UnavailableError] when h names a dependency of the callee that
// is down (Callguard-Unavailable): for a loadshed.Throttle not to count it
// as the callee's load ([callguard.ErrDownstream]), and for a
// [Handler] whose handler passes it on to name the dependency to its own
// callers.
func reported(h http.Header, err error) error {
	v := h.Get(cgwire.UnavailableHeader)
	if v == "" {
		return err
	}
	dep, d, perr := propagation.ParseUnavailable(v)
	if perr != nil {
		return err
	}
	return &route.UnavailableError{Dependency: dep, For: d, Err: err}
}

// NewRouteTransport returns an [http.RoundTripper] that keeps t, the route
// table of the one service it calls, and refuses a request whose route
// needs a dependency that the service reported down, without sending it:
// the error is a [*route.RefusedError], which matches [route.ErrUnavailable]
// and [callguard.ErrRejected], so no retry and no breaker acts on it. Put
// it outside the transport with the policy:
//
//	rt := httpx.NewRouteTransport(httpx.NewTransport(nil, p), route.New(), nil)
//
// It learns from the service's answers: a 503 with Callguard-Unavailable
// links the request's route to the dependency it names, for as long as it
// says (see package route); one request of a refused route per probe
// interval goes through, and an answer below 500 without the header ends
// the route's refusal. key returns a request's route; nil means the method
// and the URL's path ("GET /items/42"): give the route pattern instead
// when paths carry ids. Use it only towards services of your own system:
// their answers decide what it refuses. next nil means
// [http.DefaultTransport]. It panics if t is nil.
func NewRouteTransport(next http.RoundTripper, t *route.Table, key func(*http.Request) string) http.RoundTripper {
	if t == nil {
		panic("httpx: NewRouteTransport: nil table")
	}
	if next == nil {
		next = http.DefaultTransport
	}
	if key == nil {
		key = methodPath
	}
	return &routeTransport{next: next, t: t, key: key}
}

// methodPath is the default route key: method and path.
func methodPath(r *http.Request) string { return r.Method + " " + r.URL.Path }

type routeTransport struct {
	next http.RoundTripper
	t    *route.Table
	key  func(*http.Request) string
}

var _ http.RoundTripper = (*routeTransport)(nil)

// RoundTrip sends req unless its route is refused, and learns from the
// answer. The route key is computed only when the table has something to
// check or learn.
func (rt *routeTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var key string
	probe := false
	if rt.t.Linked() {
		key = rt.key(req)
		var err error
		if probe, err = rt.t.Admit(key); err != nil {
			if req.Body != nil {
				req.Body.Close() // a RoundTripper closes the body, even on errors
			}
			return nil, callguard.ErrorWithRequestID(req.Context(), err)
		}
	}
	resp, err := rt.next.RoundTrip(req)
	if resp == nil {
		return resp, err
	}
	switch {
	case resp.StatusCode == http.StatusServiceUnavailable:
		v := resp.Header.Get(cgwire.UnavailableHeader)
		if dep, d, perr := propagation.ParseUnavailable(v); perr == nil {
			if key == "" {
				key = rt.key(req)
			}
			rt.t.Observe(key, dep, d)
		}
	case probe && resp.StatusCode < 500:
		rt.t.Recovered(key)
	}
	return resp, err
}

// CloseIdleConnections closes the idle connections of the next
// RoundTripper, if it has such a method.
func (rt *routeTransport) CloseIdleConnections() {
	if c, ok := rt.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}
