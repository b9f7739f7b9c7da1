package timeout

import "github.com/callguard/callguard"

// An Option configures a [Timeout].
type Option interface{ apply(*options) }

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

type options struct {
	abandon bool
	overall bool
	clock   callguard.Clock // nil: the system clock
}

// WithAbandon makes [Timeout.Do] stop waiting for a call at its deadline.
// The call runs in a new goroutine; when the deadline passes (or the
// caller's context ends) first, Do returns [ErrTimeout] (or the caller's
// ctx.Err()) at once, and the call's result, when it comes, is discarded.
//
// The goroutine ends only when the call returns. A call that ignores its
// context therefore keeps its goroutine, and whatever it holds, after Do has
// returned: calls that never return leak a goroutine each. Use it for calls
// you cannot make honour a context, and bound them some other way. It costs
// a goroutine and a few allocations per call.
//
// A panic in the call is raised again in the caller of Do while Do waits for
// it. After Do has returned, nobody can handle it: it is recovered and
// written, with its stack, to the standard logger (package log), as net/http
// does with a handler's panic, so that one abandoned call never takes the
// program down.
//
// The default, without this option, runs the call in the caller's goroutine
// and waits for it to return.
func WithAbandon() Option {
	return optionFunc(func(o *options) { o.abandon = true })
}

// WithOverall declares the Timeout an overall one: the bound of a whole call
// with its retries and waits, placed outside retry. It changes nothing in
// how the Timeout runs; it tells [callguard.CheckClient], which refuses a
// per-attempt Timeout (the default) outside retry and an overall one inside
// it.
func WithOverall() Option {
	return optionFunc(func(o *options) { o.overall = true })
}

// WithClock sets the clock whose time the deadline is measured in. A test
// passes a fake clock (package callguardtest) and advances it to fire the
// timeout without sleeping. The call's context then has a deadline in the
// clock's time, and a caller's deadline is compared with the clock's Now.
// Each call with a deadline of its own costs a goroutine, which waits for
// the clock's timer and ends before Do returns. The default, and nil, is
// [callguard.SystemClock], which uses [context.WithTimeoutCause].
func WithClock(c callguard.Clock) Option {
	return optionFunc(func(o *options) { o.clock = c })
}
