package loadshed

import (
	"context"
	"strconv"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/internal/wire"
)

// Header and metadata names of a retry's or hedge's attempt number, which
// the client adapters send above 1 and the server adapters read into
// [callguard.InboundAttempt].
const (
	AttemptHeader   = wire.AttemptHeader   // "Callguard-Attempt"
	AttemptMetadata = wire.AttemptMetadata // "callguard-attempt"
)

// DefaultRetryShare is the share of its priority's bound that a retry or
// a hedge may fill: see [WithRetryShare].
const DefaultRetryShare = 0.9

// WithRetryShare sets the share of its priority's bound that a repeated
// request (a retry or a hedge, [callguard.InboundAttempt] above 1, which
// the adapters read from Callguard-Attempt) may fill: it is admitted
// while the calls in flight are fewer than max(1, ⌊share·bound⌋), where
// bound is what a first attempt of its priority gets ([WithShare]). The
// default is 0.9, so the last tenth of each priority's room is kept for
// first attempts.
//
// Share 1 treats repeated requests as first attempts. Below 1, a
// repeated request also ranks below the first attempts of its priority:
// it is refused, with [ReasonRetry], while first attempts of its priority
// or a higher one are being refused (in this sampling window or the
// previous one), and it never waits in the queue ([WithMaxWait]). Its
// own refusal does not make lower priorities refused. [New] panics if
// share is outside (0, 1].
func WithRetryShare(share float64) Option {
	return optionFunc(func(o *options) {
		if !(share > 0 && share <= 1) {
			panic("loadshed: retry share must be in (0, 1], got " + strconv.FormatFloat(share, 'g', -1, 64))
		}
		o.retryShare = share
	})
}

// ShedRetries returns how many repeated requests (retries and hedges) the
// limiter has refused with [ReasonRetry]; [Limiter.Shed] counts them
// too, under their priority.
func (l *Limiter) ShedRetries() uint64 { return l.shedRetry.Load() }

// repeated reports whether ctx is a repeated request that l ranks below
// first attempts: never when its retry share is 1, which spares first
// attempts the context lookup.
func (l *Limiter) repeated(ctx context.Context) bool {
	return l.retryShare < 1 && callguard.InboundAttempt(ctx) > 1
}

// acquireRepeated is [Limiter.Acquire] for a repeated request of priority
// p, once its deadline has been checked.
func (l *Limiter) acquireRepeated(ctx context.Context, p Priority) (Token, error) {
	if !l.outrankedFrom(rank(p)) && l.waiting.Load() == 0 {
		bound := max(1, int64(float64(l.allow[rank(p)].Load())*l.retryShare+1e-9))
		if n, ok := l.takeBelow(bound); ok {
			return l.token(p, n), nil
		}
	}
	return Token{}, l.refuse(ctx, p, ReasonRetry)
}

// outrankedFrom reports whether a first attempt of rank i or above was
// refused in this sampling window or the previous one. Without sampling
// windows (a fixed limit) it is false.
func (l *Limiter) outrankedFrom(i int) bool {
	if !l.timed {
		return false
	}
	since := l.seq.Load()
	for ; i < len(l.shedSeq); i++ {
		if l.shedSeq[i].Load() >= since {
			return true
		}
	}
	return false
}
