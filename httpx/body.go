package httpx

import (
	"bytes"
	"context"
	"io"
	"net/http"
)

// A link ties the context of a request that the transport sends to the
// attempt's context until the response headers arrive, and to the caller's
// context from then until the response body is closed. The zero link is
// unused (the attempt's context can be sent as it is).
type link struct {
	cancel context.CancelCauseFunc // nil: unused
	stop   func() bool             // unlinks from the attempt's context
}

// start returns the context to send the request with: ctx's values, and
// cancellation by ctx, with ctx's cause, until detach or release.
func (l *link) start(ctx context.Context) context.Context {
	sctx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	l.cancel = cancel
	l.stop = context.AfterFunc(ctx, func() { cancel(context.Cause(ctx)) })
	return sctx
}

// release ends the request's context: the attempt failed.
func (l *link) release() {
	if l.cancel != nil {
		l.stop()
		l.cancel(nil)
	}
}

// detach moves resp's body from the attempt's context to the caller's
// context rctx, until the body is closed. released says that the body is
// already in memory. detach returns false if the body was cut off: the
// attempt's context ended before detach could unlink it.
func (l *link) detach(resp *http.Response, released bool, rctx context.Context) bool {
	linked := l.stop()
	if released || resp.Body == nil || resp.Body == http.NoBody {
		l.cancel(nil)
		return true
	}
	if !linked {
		l.cancel(nil)
		return false
	}
	b := &linkedBody{ReadCloser: resp.Body, cancel: l.cancel}
	if rctx.Done() != nil { // else rctx is never cancelled: nothing to follow
		cancel := l.cancel
		b.stop = context.AfterFunc(rctx, func() { cancel(context.Cause(rctx)) })
	}
	if w, ok := resp.Body.(io.Writer); ok { // 101 Switching Protocols
		resp.Body = &linkedRWBody{b, w}
	} else {
		resp.Body = b
	}
	return true
}

// A linkedBody releases the context its response came with when closed.
type linkedBody struct {
	io.ReadCloser
	cancel context.CancelCauseFunc
	stop   func() bool // unlinks from the caller's context; may be nil
}

func (b *linkedBody) Close() error {
	err := b.ReadCloser.Close()
	if b.stop != nil {
		b.stop()
	}
	b.cancel(nil)
	return err
}

// A linkedRWBody is a linkedBody that is also writable, as the body of a
// 101 Switching Protocols response is.
type linkedRWBody struct {
	*linkedBody
	w io.Writer
}

func (b *linkedRWBody) Write(p []byte) (int, error) { return b.w.Write(p) }

// park reads the body of a failed response into memory, up to maxDrain+1
// bytes. If that is all of it, park closes the body, which frees its
// connection for the next attempt, and puts the bytes in its place: the
// response stays whole in case it is the one the caller gets. A larger body
// stays open behind the bytes read (its connection cannot be reused
// cheaply anyway). park reports whether it closed the body.
func park(resp *http.Response) (released bool) {
	body := resp.Body
	if body == nil || body == http.NoBody {
		return true
	}
	size := maxDrain + 1
	if cl := resp.ContentLength; cl >= 0 && cl < maxDrain {
		size = int(cl) + 1 // one more, to see the end
	}
	buf := make([]byte, size)
	n, err := io.ReadFull(body, buf)
	switch err {
	case nil:
		resp.Body = &parkedBody{Reader: io.MultiReader(bytes.NewReader(buf), body), Closer: body}
		return false
	case io.EOF, io.ErrUnexpectedEOF: //nolint:errorlint // io.ReadFull returns them unwrapped
		resp.Body = io.NopCloser(bytes.NewReader(buf[:n]))
	default:
		resp.Body = io.NopCloser(io.MultiReader(bytes.NewReader(buf[:n]), errReader{err}))
	}
	body.Close()
	return true
}

// A parkedBody is a body whose first bytes were read into memory.
type parkedBody struct {
	io.Reader
	io.Closer
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// discard closes the body of a response that the caller will not get,
// after reading at most maxDrain bytes of it so that its connection can be
// reused. A parked body still holds its first maxDrain+1 bytes in memory,
// so discarding it reads nothing more from the connection.
func discard(resp *http.Response) {
	if resp.Body == nil {
		return
	}
	_, _ = io.CopyN(io.Discard, resp.Body, maxDrain)
	resp.Body.Close()
}
