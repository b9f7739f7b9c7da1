package observe

import (
	"context"
	"log/slog"

	"github.com/callguard/callguard/breaker"
)

// The attribute keys of log records and of the status page's JSON. They
// are a documented contract.
const (
	KeyKind      = "policy.kind"
	KeyName      = "policy.name"
	KeyEvent     = "event"
	KeyReason    = "reason"
	KeyFrom      = "from"
	KeyTo        = "to"
	KeyAttempt   = "attempt"
	KeyDelay     = "delay"
	KeyPriority  = "priority"
	KeyRequestID = "request_id"
	KeyError     = "error"
)

// level is the level at which an event is logged.
func level(e Event) slog.Level {
	switch e.Type {
	case EventRefusal, EventGiveUp, EventProbe:
		return slog.LevelWarn
	case EventTransition:
		if e.To == breaker.Open.String() {
			return slog.LevelWarn
		}
	case EventLimit:
		return slog.LevelDebug
	}
	return slog.LevelInfo
}

// log writes e to the Observer's logger as one record, message
// "callguard <event>".
func (o *Observer) log(ctx context.Context, e Event) {
	lvl := level(e)
	if !o.logger.Enabled(ctx, lvl) {
		return
	}
	attrs := make([]slog.Attr, 0, 10)
	attrs = append(attrs, slog.String(KeyKind, string(e.Kind)), slog.String(KeyName, e.Name), slog.String(KeyEvent, string(e.Type)))
	if e.Reason != "" {
		attrs = append(attrs, slog.String(KeyReason, e.Reason))
	}
	if e.From != "" || e.To != "" {
		attrs = append(attrs, slog.String(KeyFrom, e.From), slog.String(KeyTo, e.To))
	}
	if e.Attempt > 0 {
		attrs = append(attrs, slog.Int(KeyAttempt, e.Attempt))
	}
	if e.Type == EventRetry {
		attrs = append(attrs, slog.Duration(KeyDelay, e.Delay))
	}
	if e.Priority != "" {
		attrs = append(attrs, slog.String(KeyPriority, e.Priority))
	}
	if e.RequestID != "" {
		attrs = append(attrs, slog.String(KeyRequestID, e.RequestID))
	}
	if e.Err != nil {
		attrs = append(attrs, slog.String(KeyError, e.Err.Error()))
	}
	o.logger.LogAttrs(ctx, lvl, "callguard "+string(e.Type), attrs...)
}
