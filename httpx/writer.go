package httpx

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"

	"github.com/callguard/callguard/internal/propagation"
	"github.com/callguard/callguard/ttl"
)

// errWriteLate is what a write to the ResponseWriter of a Handler returns
// once the handler has returned: the write goes nowhere.
var errWriteLate = errors.New("httpx: ResponseWriter used after the handler returned")

// Optional interfaces of a ResponseWriter that the Handler's writer passes
// on when the original has them.
const (
	canFlush = 1 << iota
	canHijack
	canReadFrom
	canPush
)

// newServing returns a new serving for the original writer w. Its out, the
// writer that next gets, implements exactly those of [http.Flusher],
// [http.Hijacker], [io.ReaderFrom] and [http.Pusher] that w implements, as
// httpsnoop's wrappers do: each combination is a type that embeds serving,
// so the writer costs no allocation besides s.
func newServing(w http.ResponseWriter) *serving {
	s, out := wrap(capabilities(w))
	s.w, s.out = w, out
	return s
}

func capabilities(w http.ResponseWriter) int {
	caps := 0
	if _, ok := w.(http.Flusher); ok {
		caps |= canFlush
	}
	if _, ok := w.(http.Hijacker); ok {
		caps |= canHijack
	}
	if _, ok := w.(io.ReaderFrom); ok {
		caps |= canReadFrom
	}
	if _, ok := w.(http.Pusher); ok {
		caps |= canPush
	}
	return caps
}

// state returns s; the writers that embed s promote it.
func (s *serving) state() *serving { return s }

// sending is called before the header goes out. At an [Edge] server, it
// drops the headers that name internal services: a loop's path and an
// unavailable dependency, passed on by [Error] or copied from a
// dependency's response.
func (s *serving) sending() {
	if s.h.prop.Edge {
		delete(s.w.Header(), ttl.PathHeader)
		delete(s.w.Header(), UnavailableHeader) // route.go
		if h := s.w.Header(); h.Get(headerError) == propagation.DownstreamReason {
			delete(h, headerError) // the internal cause of a refusal stays inside
		}
	}
}

// report records err, reported by [Error], and returns whether the
// response is started (or over): then Error writes nothing.
func (s *serving) report(err error) bool {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if !s.closed {
		s.err = err
	}
	return s.code != 0 || s.closed
}

// Header returns the original's header, or a throwaway one once the
// handler has returned.
func (s *serving) Header() http.Header {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed {
		return http.Header{}
	}
	return s.w.Header()
}

func (s *serving) WriteHeader(code int) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed {
		return
	}
	s.sending()
	if s.code == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		s.code = code // 1xx other than 101 are informational: more follow
	}
	s.w.WriteHeader(code)
}

// startBody, with s.wmu held, refuses a write once ServeHTTP has returned,
// and sends the header of a body written without WriteHeader.
func (s *serving) startBody() error {
	if s.closed {
		return errWriteLate
	}
	if s.code == 0 {
		s.sending()
		s.code = http.StatusOK
	}
	return nil
}

func (s *serving) Write(p []byte) (int, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.startBody(); err != nil {
		return 0, err
	}
	return s.w.Write(p)
}

// WriteString implements [io.StringWriter], which any writer can offer.
func (s *serving) WriteString(str string) (int, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.startBody(); err != nil {
		return 0, err
	}
	return io.WriteString(s.w, str)
}

// Unwrap returns the original ResponseWriter, for [http.ResponseController].
func (s *serving) Unwrap() http.ResponseWriter { return s.w }

func (s *serving) flush() {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.startBody() == nil {
		s.w.(http.Flusher).Flush()
	}
}

func (s *serving) hijack() (net.Conn, *bufio.ReadWriter, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed {
		return nil, nil, errWriteLate
	}
	c, rw, err := s.w.(http.Hijacker).Hijack()
	if err == nil && s.code == 0 {
		s.code = http.StatusSwitchingProtocols // the handler owns the connection
	}
	return c, rw, err
}

func (s *serving) readFrom(src io.Reader) (int64, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.startBody(); err != nil {
		return 0, err
	}
	return s.w.(io.ReaderFrom).ReadFrom(src)
}

func (s *serving) push(target string, opts *http.PushOptions) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed {
		return errWriteLate
	}
	return s.w.(http.Pusher).Push(target, opts)
}

// The writers for each combination of optional interfaces: F for Flusher,
// H for Hijacker, R for ReaderFrom, P for Pusher.
type (
	writerF    struct{ serving }
	writerH    struct{ serving }
	writerFH   struct{ serving }
	writerR    struct{ serving }
	writerFR   struct{ serving }
	writerHR   struct{ serving }
	writerFHR  struct{ serving }
	writerP    struct{ serving }
	writerFP   struct{ serving }
	writerHP   struct{ serving }
	writerFHP  struct{ serving }
	writerRP   struct{ serving }
	writerFRP  struct{ serving }
	writerHRP  struct{ serving }
	writerFHRP struct{ serving }
)

func (w *writerF) Flush()                                              { w.flush() }
func (w *writerH) Hijack() (net.Conn, *bufio.ReadWriter, error)        { return w.hijack() }
func (w *writerFH) Flush()                                             { w.flush() }
func (w *writerFH) Hijack() (net.Conn, *bufio.ReadWriter, error)       { return w.hijack() }
func (w *writerR) ReadFrom(src io.Reader) (int64, error)               { return w.readFrom(src) }
func (w *writerFR) Flush()                                             { w.flush() }
func (w *writerFR) ReadFrom(src io.Reader) (int64, error)              { return w.readFrom(src) }
func (w *writerHR) Hijack() (net.Conn, *bufio.ReadWriter, error)       { return w.hijack() }
func (w *writerHR) ReadFrom(src io.Reader) (int64, error)              { return w.readFrom(src) }
func (w *writerFHR) Flush()                                            { w.flush() }
func (w *writerFHR) Hijack() (net.Conn, *bufio.ReadWriter, error)      { return w.hijack() }
func (w *writerFHR) ReadFrom(src io.Reader) (int64, error)             { return w.readFrom(src) }
func (w *writerP) Push(target string, opts *http.PushOptions) error    { return w.push(target, opts) }
func (w *writerFP) Flush()                                             { w.flush() }
func (w *writerFP) Push(target string, opts *http.PushOptions) error   { return w.push(target, opts) }
func (w *writerHP) Hijack() (net.Conn, *bufio.ReadWriter, error)       { return w.hijack() }
func (w *writerHP) Push(target string, opts *http.PushOptions) error   { return w.push(target, opts) }
func (w *writerFHP) Flush()                                            { w.flush() }
func (w *writerFHP) Hijack() (net.Conn, *bufio.ReadWriter, error)      { return w.hijack() }
func (w *writerFHP) Push(target string, opts *http.PushOptions) error  { return w.push(target, opts) }
func (w *writerRP) ReadFrom(src io.Reader) (int64, error)              { return w.readFrom(src) }
func (w *writerRP) Push(target string, opts *http.PushOptions) error   { return w.push(target, opts) }
func (w *writerFRP) Flush()                                            { w.flush() }
func (w *writerFRP) ReadFrom(src io.Reader) (int64, error)             { return w.readFrom(src) }
func (w *writerFRP) Push(target string, opts *http.PushOptions) error  { return w.push(target, opts) }
func (w *writerHRP) Hijack() (net.Conn, *bufio.ReadWriter, error)      { return w.hijack() }
func (w *writerHRP) ReadFrom(src io.Reader) (int64, error)             { return w.readFrom(src) }
func (w *writerHRP) Push(target string, opts *http.PushOptions) error  { return w.push(target, opts) }
func (w *writerFHRP) Flush()                                           { w.flush() }
func (w *writerFHRP) Hijack() (net.Conn, *bufio.ReadWriter, error)     { return w.hijack() }
func (w *writerFHRP) ReadFrom(src io.Reader) (int64, error)            { return w.readFrom(src) }
func (w *writerFHRP) Push(target string, opts *http.PushOptions) error { return w.push(target, opts) }

// wrap returns a new serving and the writer for caps that embeds it.
func wrap(caps int) (*serving, http.ResponseWriter) {
	if mk := wrappers[caps]; mk != nil {
		return mk()
	}
	s := &serving{}
	return s, s
}

// wrappers makes the writer of each set of capabilities but the empty one.
var wrappers = [16]func() (*serving, http.ResponseWriter){
	canFlush:                                     newWriter[writerF],
	canHijack:                                    newWriter[writerH],
	canFlush | canHijack:                         newWriter[writerFH],
	canReadFrom:                                  newWriter[writerR],
	canFlush | canReadFrom:                       newWriter[writerFR],
	canHijack | canReadFrom:                      newWriter[writerHR],
	canFlush | canHijack | canReadFrom:           newWriter[writerFHR],
	canPush:                                      newWriter[writerP],
	canFlush | canPush:                           newWriter[writerFP],
	canHijack | canPush:                          newWriter[writerHP],
	canFlush | canHijack | canPush:               newWriter[writerFHP],
	canReadFrom | canPush:                        newWriter[writerRP],
	canFlush | canReadFrom | canPush:             newWriter[writerFRP],
	canHijack | canReadFrom | canPush:            newWriter[writerHRP],
	canFlush | canHijack | canReadFrom | canPush: newWriter[writerFHRP],
}

// newWriter returns a new W, a writer that embeds a serving, and its
// serving.
func newWriter[W any, PW interface {
	*W
	http.ResponseWriter
	state() *serving
}]() (*serving, http.ResponseWriter) {
	w := PW(new(W))
	return w.state(), w
}
