package loadshed

import (
	"strconv"
	"time"

	"github.com/callguard/callguard"
)

// ErrShed is matched, with errors.Is, by every refusal of this package's
// policies: a [Limiter] over its limit, a [Throttle] rejecting locally, a
// rate limit out of tokens. It matches [callguard.ErrOverloaded] and
// [callguard.ErrRejected] too: the call never ran, a breaker does not count
// it, and retry does not retry it unless it carries a pushback delay
// (see [ShedError]). Adapters answer it with HTTP 503 or gRPC Unavailable
// and "Callguard-Pushback: -1", so no tier above retries.
//
// A Limiter returns ErrShed itself, preallocated, when it has no delay to
// suggest (the default), so shedding allocates nothing.
var ErrShed error = &sentinel{msg: "loadshed: shed"}

// ErrThrottled is returned by a [Throttle] that rejects a call locally,
// without sending it. It matches [ErrShed], [callguard.ErrOverloaded] and
// [callguard.ErrRejected].
var ErrThrottled error = &sentinel{msg: "loadshed: throttled locally"}

// ErrRateLimited is matched by the refusals of [RateLimit] and
// [KeyedRateLimit]. It matches [ErrShed], [callguard.ErrOverloaded] and
// [callguard.ErrRejected]; the refusal is a [*ShedError] whose Delay says
// when a token will be free.
var ErrRateLimited error = &sentinel{msg: "loadshed: rate limited"}

// ErrDeadline is returned by a [Limiter] that refuses a request at
// admission because its context's remaining time is below the expected
// service time (see [WithMinServiceTime]): the request could not finish in
// time, so it is refused before it takes a slot.
//
// ErrDeadline is [callguard.ErrTooLate], the class of every refusal for
// want of time: it matches [context.DeadlineExceeded] and reports Timeout()
// true, as timeout.ErrTimeout does, so the adapters answer it with HTTP 504
// and gRPC DeadlineExceeded. It deliberately does not match [ErrShed] or
// [callguard.ErrOverloaded]: the server is not overloaded, the caller's
// budget is too short, and a 503 would make the callers' throttles and
// breakers count a healthy server as overloaded.
var ErrDeadline = callguard.ErrTooLate

// A Reason says why a request was refused.
type Reason string

// The reasons of a [ShedError].
const (
	ReasonLimit        Reason = "limit"         // the limit for the request's priority was reached
	ReasonPriority     Reason = "priority"      // requests of a higher priority are being refused
	ReasonQueueFull    Reason = "queue full"    // no slot, and the wait queue was full
	ReasonQueueTimeout Reason = "queue timeout" // no slot freed up within the max wait
	ReasonThrottle     Reason = "throttle"      // client-side adaptive throttling
	ReasonRate         Reason = "rate"          // rate limit: no token
	ReasonRetry        Reason = "retry"         // a retry or hedge, shed before first attempts (WithRetryShare)
)

// A ShedError is a refusal that carries detail, above all a pushback delay:
// a [Limiter] configured with [WithPushback], and the rate limits, return
// one. It matches [ErrShed], [callguard.ErrOverloaded] and
// [callguard.ErrRejected], and [ErrThrottled] or [ErrRateLimited] when its
// Reason says so. [callguard.Pushback] reads its delay through the Pushback
// method.
type ShedError struct {
	// Priority is the priority of the refused request.
	Priority Priority
	// Limit and InFlight are the concurrency limit that applied to the
	// request and the calls in flight when it was refused; zero for the
	// rate limits and the throttle.
	Limit, InFlight int
	// Delay is how long the caller should wait before trying again. Zero
	// means "do not retry".
	Delay time.Duration
	// Reason says why the request was refused.
	Reason Reason
}

func (e *ShedError) Error() string {
	s := "loadshed: shed " + e.Priority.String() + " request (" + string(e.Reason)
	if e.Limit > 0 {
		s += ", " + strconv.Itoa(e.InFlight) + " in flight, limit " + strconv.Itoa(e.Limit)
	}
	if e.Delay > 0 {
		return s + "), retry after " + e.Delay.String()
	}
	return s + "), do not retry"
}

// Is reports whether target is [ErrShed], [callguard.ErrOverloaded],
// [callguard.ErrRejected], or the sentinel of the error's Reason.
func (e *ShedError) Is(target error) bool {
	switch target {
	case ErrShed, callguard.ErrOverloaded, callguard.ErrRejected:
		return true
	case ErrThrottled:
		return e.Reason == ReasonThrottle
	case ErrRateLimited:
		return e.Reason == ReasonRate
	}
	return false
}

// Pushback returns Delay: the time after which a retry is welcome, zero for
// "do not retry".
func (e *ShedError) Pushback() time.Duration { return e.Delay }

// sentinel is the type of the preallocated refusals.
type sentinel struct{ msg string }

func (s *sentinel) Error() string { return s.msg }

func (s *sentinel) Is(target error) bool {
	return target == ErrShed || target == callguard.ErrOverloaded || target == callguard.ErrRejected
}
