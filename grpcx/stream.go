package grpcx

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/callguard/callguard"
)

// StreamClientInterceptor returns an interceptor that runs the opening of
// every stream under p: each attempt of the policy asks gRPC's streamer for
// a stream, and its error is classified as for [UnaryClientInterceptor]. A
// stream that was handed to the caller is never retried, since messages may
// have been delivered on it; with [WithRetryFirstMessage], a
// server-streaming call is retried until its first response instead.
//
// Opening a gRPC stream does not wait for the server: it fails when no
// connection can be had, or when a policy refuses the call (an open
// breaker, a full bulkhead). A server's answer, an error status included,
// comes with the first RecvMsg, after the policy has finished.
//
// The stream's context has the values of the attempt's context and the
// cancellation and deadline of the caller's: a per-attempt timeout bounds
// the opening of the stream (and the first response, with
// WithRetryFirstMessage), not its whole life. Each stream the interceptor
// opens carries the hop budget, call path and request id as a unary call
// does, and a stream whose request has no hops left is not opened: the call
// fails with [ttl.ErrExhausted]. p nil means no policy: each stream is
// opened once, with the metadata above.
func StreamClientInterceptor(p callguard.Policy, opts ...ClientOption) grpc.StreamClientInterceptor {
	return newClient(p, opts).stream
}

// streamCall is one call of the stream interceptor. ctx is the caller's
// context, kept for the life of the stream (to open further streams, with
// WithRetryFirstMessage, and to derive their contexts).
type streamCall struct {
	c        *client
	h        callguard.Handler
	ctx      context.Context
	desc     *grpc.StreamDesc
	cc       *grpc.ClientConn
	method   string
	streamer grpc.Streamer
	opts     []grpc.CallOption
}

func (c *client) stream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	h, callOpts := callOptions(c.h, opts)
	sc := &streamCall{c: c, h: h, ctx: ctx, desc: desc, cc: cc, method: method, streamer: streamer, opts: callOpts}
	r := new(run)
	err := h(notSafe(ctx), func(actx context.Context) error {
		cs, err := sc.open(actx, nil)
		if err == nil {
			r.offer(cs, false)
		}
		return err
	})
	cs, _ := r.finish()
	if err != nil {
		if cs != nil {
			cs.end() // a policy failed the call after the stream opened
		}
		return nil, callerError(ctx, err)
	}
	if cs == nil { // a policy returned nil without running the call
		return nil, status.Error(codes.Internal, "grpcx: policy returned no error and opened no stream")
	}
	if c.retryFirst && desc.ServerStreams && !desc.ClientStreams {
		return &firstStream{sc: sc, cur: cs}, nil
	}
	return cs, nil
}

// A run collects the stream that one run of the policy opened. The first
// stream offered while the run lasts is kept; any other, from an attempt
// that a policy abandoned or from one that ended after the run did, is
// ended at once.
type run struct {
	mu   sync.Mutex
	cs   *clientStream
	eof  bool // the stream ended, without error, before a first response
	over bool
}

func (r *run) offer(cs *clientStream, eof bool) {
	r.mu.Lock()
	keep := !r.over && r.cs == nil
	if keep {
		r.cs, r.eof = cs, eof
	}
	r.mu.Unlock()
	if !keep {
		cs.end()
	}
}

func (r *run) finish() (*clientStream, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.over = true
	return r.cs, r.eof
}

// open opens a stream for an attempt that runs with actx, and then runs
// step on it, if step is not nil. actx's cancellation bounds the opening and
// the step; the stream itself lives on the caller's. An error is returned
// classified; the stream is ended then.
func (sc *streamCall) open(actx context.Context, step func(*clientStream) error) (*clientStream, error) {
	sctx, release := sc.streamContext(actx)
	sctx, err := outgoing(sctx)
	if err != nil {
		release()
		return nil, err // ttl.ErrExhausted, permanent: nothing was sent
	}
	var cs *clientStream
	err = sc.bounded(actx, release, func() error {
		s, err := sc.streamer(sctx, sc.desc, sc.cc, sc.method, sc.opts...)
		if err != nil {
			return sc.c.mark(err, nil)
		}
		cs = &clientStream{ClientStream: s, release: release, serverStreams: sc.desc.ServerStreams}
		if step != nil {
			return step(cs) // classified by step
		}
		return nil
	})
	if err != nil {
		release()
		return nil, err
	}
	return cs, nil
}

// bounded runs fn, which returns a classified error, within an attempt that
// runs with actx. When the policy gave the attempt a cancellation of its own
// (a per-attempt timeout) and it comes first, it ends the stream with
// release, and the attempt fails with actx's error, whatever fn returned.
func (sc *streamCall) bounded(actx context.Context, release func(), fn func() error) error {
	if actx.Done() == sc.ctx.Done() {
		return fn() // the stream's context is a child of actx
	}
	stop := context.AfterFunc(actx, release)
	err := fn()
	if !stop() {
		return sc.c.mark(status.FromContextError(actx.Err()).Err(), nil)
	}
	return err
}

// streamContext returns the context for a stream opened by an attempt that
// runs with actx, and the function that ends it. When the policy left the
// caller's cancellation alone (retry, breaker, bulkhead), that is a child of
// actx. Otherwise (a per-attempt timeout) it has actx's values but the
// caller's deadline and cancellation, so that the stream outlives the
// attempt.
func (sc *streamCall) streamContext(actx context.Context) (context.Context, func()) {
	caller := sc.ctx
	if actx.Done() == caller.Done() {
		ctx, cancel := context.WithCancel(actx)
		return ctx, cancel
	}
	var (
		ctx    context.Context
		cancel context.CancelFunc
		base   = context.WithoutCancel(actx)
	)
	deadline, ok := caller.Deadline()
	if ok {
		ctx, cancel = context.WithDeadline(base, deadline)
	} else {
		ctx, cancel = context.WithCancel(base)
	}
	stop := context.AfterFunc(caller, func() {
		if ok && errors.Is(caller.Err(), context.DeadlineExceeded) {
			return // ctx's own timer fires at the same deadline, with the same error
		}
		cancel()
	})
	return ctx, func() { stop(); cancel() }
}

// A clientStream is a stream opened by the interceptor. It ends the
// context the interceptor made for it when the stream ends: when RecvMsg
// fails (io.EOF included), or after the one response of a call without
// server streaming.
type clientStream struct {
	grpc.ClientStream
	release       func()
	serverStreams bool
}

// RecvMsg receives a message, and ends the stream's context once the
// stream has ended.
func (s *clientStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if err != nil || !s.serverStreams {
		s.release()
	}
	return err
}

// end cancels the stream.
func (s *clientStream) end() { s.release() }

// A firstStream is a server-streaming stream whose first response is
// received under the policy and retried (WithRetryFirstMessage). SendMsg and
// CloseSend are called by the generated code before the caller gets the
// stream; RecvMsg is never called concurrently with itself. mu guards cur,
// which the first RecvMsg may replace, against the other methods.
type firstStream struct {
	sc *streamCall

	mu  sync.Mutex
	cur *clientStream

	req    any  // the request, kept for the retries
	sends  int  // calls of SendMsg
	closed bool // CloseSend was called

	// Only RecvMsg reads and writes these.
	started bool  // RecvMsg was called
	failed  error // the error of a first response that failed, returned from then on
}

func (f *firstStream) stream() *clientStream {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cur
}

// Header returns the header of the current stream.
func (f *firstStream) Header() (metadata.MD, error) { return f.stream().Header() }

// Trailer returns the trailer of the current stream.
func (f *firstStream) Trailer() metadata.MD { return f.stream().Trailer() }

// Context returns the context of the current stream.
func (f *firstStream) Context() context.Context { return f.stream().Context() }

// CloseSend closes the send side of the stream.
func (f *firstStream) CloseSend() error {
	f.closed = true
	return f.stream().CloseSend()
}

// SendMsg sends m and keeps it for a retry.
func (f *firstStream) SendMsg(m any) error {
	f.req = m
	f.sends++
	return f.stream().SendMsg(m)
}

// RecvMsg receives a message. The first call receives the first response
// under the policy (see [WithRetryFirstMessage]).
func (f *firstStream) RecvMsg(m any) error {
	if f.failed != nil {
		return f.failed
	}
	if f.started || f.sends != 1 || !f.closed {
		f.started = true // not the shape of a server-streaming call: nothing to replay
		return f.stream().RecvMsg(m)
	}
	f.started = true
	err := f.first(m)
	if err != nil && !errors.Is(err, io.EOF) {
		f.failed = err
	}
	return err
}

// first runs the policy over the first response. Its first attempt
// receives from the stream the interceptor opened; each further attempt
// opens a new stream, sends the request, closes the send side and receives.
func (f *firstStream) first(m any) error {
	sc := f.sc
	s1 := f.stream()
	r := new(run)
	var n atomic.Int32
	err := sc.h(sc.ctx, func(actx context.Context) error {
		var (
			cs  *clientStream
			eof bool
			err error
		)
		if n.Add(1) == 1 {
			cs = s1
			err = sc.bounded(actx, cs.release, func() (err error) {
				eof, err = sc.recvFirst(cs, m)
				return err
			})
		} else {
			cs, err = sc.open(actx, func(cs *clientStream) (err error) {
				if err := cs.SendMsg(f.req); err != nil && !errors.Is(err, io.EOF) {
					return sc.c.mark(err, nil) // io.EOF: the status comes with RecvMsg
				}
				if err := cs.CloseSend(); err != nil {
					return sc.c.mark(err, nil)
				}
				eof, err = sc.recvFirst(cs, m)
				return err
			})
		}
		if err == nil {
			r.offer(cs, eof)
		}
		return err
	})
	cs, eof := r.finish()
	if err != nil {
		s1.end()
		if cs != nil {
			cs.end()
		}
		return callerError(sc.ctx, err)
	}
	if cs == nil {
		s1.end()
		return status.Error(codes.Internal, "grpcx: policy returned no error and received nothing")
	}
	if cs != s1 {
		s1.end()
		f.mu.Lock()
		f.cur = cs
		f.mu.Unlock()
	}
	if eof {
		return io.EOF
	}
	return nil
}

// recvFirst receives the first response of cs into m. eof reports a stream
// that ended without error and without a response. The error is classified
// and the stream ended.
func (sc *streamCall) recvFirst(cs *clientStream, m any) (eof bool, err error) {
	err = cs.ClientStream.RecvMsg(m)
	switch {
	case err == nil:
		return false, nil
	case errors.Is(err, io.EOF):
		cs.end()
		return true, nil
	}
	cs.end()
	return false, sc.c.mark(err, cs.Trailer())
}
