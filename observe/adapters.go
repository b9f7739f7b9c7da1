package observe

import (
	"context"
	"errors"
	"net/http"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/timeout"
)

// Kinds of the adapters' servers, for [Observer.HTTPRejects] and
// [Observer.GRPCRejects].
const (
	KindHTTPServer Kind = "http.server"
	KindGRPCServer Kind = "grpc.server"
)

// HTTPRejects returns a hook for httpx.OnReject that reports every request
// an httpx.Handler answered in its handler's place (a loop, an exhausted
// hop budget, too little time, a shed request, an open breaker, a
// timeout), as a refusal of the instance name of kind [KindHTTPServer],
// with the request id and, for shed requests, the priority:
//
//	httpx.Handler(h, p, httpx.OnReject(o.HTTPRejects("api")))
//
// A refusal by a policy that is also watched ([Observer.Watch]) is counted
// by both: once for the policy, once for the server.
func (o *Observer) HTTPRejects(name string) func(r *http.Request, err error) {
	inst := o.instance(KindHTTPServer, name)
	return func(r *http.Request, err error) { inst.rejected(r.Context(), err) }
}

// GRPCRejects returns a hook for grpcx.OnReject that reports every call a
// grpcx server interceptor refused before or instead of its handler, as
// [Observer.HTTPRejects] does for HTTP, under kind [KindGRPCServer].
func (o *Observer) GRPCRejects(name string) func(ctx context.Context, fullMethod string, err error) {
	inst := o.instance(KindGRPCServer, name)
	return func(ctx context.Context, _ string, err error) { inst.rejected(ctx, err) }
}

// rejected counts a server's refusal, whatever policy made it.
func (inst *Instance) rejected(ctx context.Context, err error) {
	inst.calls.Add(1)
	reason, shed := anyRefusal(err)
	inst.refused(ctx, reason, err, shed)
}

// More refusal reasons, for the adapters' servers. Names are a documented
// contract.
const (
	ReasonTimeout = "timeout" // a timeout fired before the handler answered
	ReasonOther   = "other"   // anything else the server answered itself
)

// anyRefusal names the reason of a refusal by any policy.
func anyRefusal(err error) (reason string, shed bool) {
	for _, k := range []Kind{KindTTL, KindLimiter, KindThrottle, KindBreaker, KindBulkhead} {
		if r, s, ok := refusal(k, err); ok {
			return r, s
		}
	}
	switch {
	case errors.Is(err, timeout.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return ReasonTimeout, false
	case errors.Is(err, callguard.ErrRejected):
		return ReasonRejected, false
	}
	return ReasonOther, false
}
