package grpcx

import (
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/callguard/callguard"
)

// An Option configures an interceptor. Options that concern only client
// interceptors are ignored by server interceptors, and the reverse.
type Option interface{ apply(*options) }

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

type options struct {
	classify   func(err error, trailer metadata.MD) error // never nil
	retryFirst bool
}

func newOptions(opts []Option) options {
	o := options{classify: Classify}
	for _, opt := range opts {
		opt.apply(&o)
	}
	if o.classify == nil {
		o.classify = Classify
	}
	return o
}

// WithClassifier sets how a client interceptor turns a failed attempt into
// the error its policy sees. f gets the attempt's error, always a gRPC
// status error, and the trailer metadata the server sent (nil when the call
// never reached a server). It returns err marked for the policies: err
// itself for a failure that may be retried, [callguard.Permanent](err) for
// an answer that retrying cannot change and that says nothing about the
// server's health, [callguard.NoRetry](err) for a failure that must not be
// repeated, [callguard.Overloaded](delay, err) for a server that shed the
// call. A nil result is taken as err itself. f must be safe for concurrent
// use.
//
// The default, and f == nil, is [Classify]; a classifier can handle a few
// cases and delegate the rest to it.
func WithClassifier(f func(err error, trailer metadata.MD) error) Option {
	return optionFunc(func(o *options) { o.classify = f })
}

// WithRetryFirstMessage makes a client stream interceptor retry a
// server-streaming call (one request, a stream of responses) until its
// first response. By default the policy covers only opening the stream; an
// error the server answers with comes with the first RecvMsg, after the
// policy has finished.
//
// With this option the interceptor keeps the request message, and the first
// RecvMsg runs the call's policy once more: its first attempt receives from
// the stream already open, and each further attempt opens a new stream,
// sends the request, closes the send side and receives. A per-attempt
// timeout thus bounds the wait for the first response. The breaker counts
// the opening and the first response as two calls. Once a response has been
// received, the stream is never retried. gRPC forbids changing a message
// after SendMsg, so keeping it is safe. The option does nothing for unary,
// client-streaming and bidirectional calls. The default is off.
func WithRetryFirstMessage() Option {
	return optionFunc(func(o *options) { o.retryFirst = true })
}

// WithPolicy returns a call option that runs one call under p instead of
// the interceptor's policy; WithPolicy(nil) runs the call with no policy at
// all. It works with the client interceptors of this package and is ignored,
// harmlessly, by a connection without them.
//
// WithPolicy wraps p once, when it is called: create the option once and
// reuse it, and a call that uses it costs what a call through the
// interceptor's own policy costs, plus one copy of the call's options (the
// interceptor removes its own options before calling gRPC).
//
// For a smaller change than a whole policy, retry reads a per-call attempt
// count from the call's context (see the retry package): it needs no call
// option.
func WithPolicy(p callguard.Policy) grpc.CallOption {
	h := invoke
	if p != nil {
		h = p.Wrap(invoke)
	}
	return policyOption{h: h}
}

// policyOption is the call option made by WithPolicy. It embeds
// grpc.EmptyCallOption, so gRPC ignores it if it ever gets there.
type policyOption struct {
	grpc.EmptyCallOption
	h callguard.Handler
}

// callOptions returns the handler to run a call with and the call options
// to pass on to gRPC, without ours. It copies opts only when it holds one
// of ours; the last WithPolicy wins.
func callOptions(h callguard.Handler, opts []grpc.CallOption) (callguard.Handler, []grpc.CallOption) {
	n := 0
	for _, o := range opts {
		if po, ok := o.(policyOption); ok {
			h = po.h
			n++
		}
	}
	if n == 0 {
		return h, opts
	}
	rest := make([]grpc.CallOption, 0, len(opts)-n)
	for _, o := range opts {
		if _, ok := o.(policyOption); !ok {
			rest = append(rest, o)
		}
	}
	return h, rest
}
