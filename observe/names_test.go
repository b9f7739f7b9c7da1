package observe_test

import (
	"os"
	"strings"
	"testing"

	"github.com/callguard/callguard/observe"
)

// TestNamesGolden pins the names that logs, events and the status page's
// JSON carry: changing one fails here until testdata/names.txt changes too.
func TestNamesGolden(t *testing.T) {
	var got []string
	for _, k := range []observe.Kind{observe.KindBreaker, observe.KindRetry, observe.KindBudget, observe.KindBulkhead,
		observe.KindTimeout, observe.KindTTL, observe.KindLimiter, observe.KindThrottle, observe.KindRateLimit, observe.KindHedge, observe.KindPolicy,
		observe.KindHTTPServer, observe.KindGRPCServer, observe.KindProbe} {
		got = append(got, "kind "+string(k))
	}
	for _, e := range []observe.EventType{observe.EventRetry, observe.EventTransition, observe.EventRefusal, observe.EventGiveUp, observe.EventLimit, observe.EventHedge, observe.EventProbe} {
		got = append(got, "event "+string(e))
	}
	for _, r := range []string{observe.ReasonOpen, observe.ReasonFull, observe.ReasonShed, observe.ReasonDeadline,
		observe.ReasonLoop, observe.ReasonHops, observe.ReasonRejected, observe.ReasonTimeout, observe.ReasonOther} {
		got = append(got, "reason "+r)
	}
	for _, o := range []observe.Outcome{observe.OutcomeSuccess, observe.OutcomeFailure, observe.OutcomeRefused} {
		got = append(got, "outcome "+o.String())
	}
	for _, k := range []string{observe.KeyKind, observe.KeyName, observe.KeyEvent, observe.KeyReason, observe.KeyFrom, observe.KeyTo,
		observe.KeyAttempt, observe.KeyDelay, observe.KeyPriority, observe.KeyRequestID, observe.KeyError} {
		got = append(got, "key "+k)
	}
	const file = "testdata/names.txt"
	if os.Getenv("UPDATE_GOLDEN") != "" {
		if err := os.WriteFile(file, []byte(strings.Join(got, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if g := strings.Join(got, "\n") + "\n"; g != string(want) {
		t.Errorf("names changed; update %s (UPDATE_GOLDEN=1 go test -run TestNamesGolden) and the README.\ngot:\n%s\nwant:\n%s", file, g, want)
	}
}
