// Package httpx puts callguard policies into net/http clients and servers,
// without changing how they are called.
//
// A client gets the policies as its transport:
//
//	out := callguard.Chain(
//		retry.New(),                          // outermost
//		breaker.New(breaker.WithName("payments")),
//		bulkhead.New(64),
//		timeout.New(300*time.Millisecond),    // per attempt, innermost
//	)
//	client := &http.Client{Transport: httpx.NewTransport(nil, out)}
//
// and a server runs its handler under them:
//
//	in := callguard.Chain(bulkhead.New(256), timeout.New(2*time.Second))
//	srv := &http.Server{Handler: httpx.Handler(mux, in)}
//
// As in every callguard pipeline, the first policy of a Chain is the
// outermost: Chain(a, b) runs a around b around the attempt.
//
// # Client: responses become errors, and back
//
// [NewTransport] runs each request through the policy. Each attempt's
// response or transport error is classified into the error the policy sees
// ([Classify]): 502, 503, 504, 429 and transport errors are failures that
// retry may retry and a breaker counts; a 500, and a transport error after
// the request may have reached the server, are retried only for idempotent
// requests ([callguard.NoRetry] otherwise); other 4xx are
// [callguard.Permanent]. Retry-After and Callguard-Pushback turn 429 and 503
// into [callguard.Overloaded] errors that carry the callee's delay, or its
// "don't retry". The caller still gets an ordinary *http.Response: the last
// real one, when there was one, with its body intact; an error only when
// no response came (a dead server, an open breaker, a full bulkhead).
//
// # Server: errors become responses
//
// [Handler] answers for the handler when the policy refuses a request or
// fails it: 503 with Callguard-Pushback for overloaded errors (a full
// bulkhead, a shed request), 504 for a timeout, 508 with Callguard-Error
// for a call-path loop or an exhausted hop budget, 500 otherwise. A handler
// whose own dependency failed answers with [Error]: an overloaded
// dependency becomes 503 with Callguard-Pushback -1, so that the callers
// above do not retry into a fault that the tier next to it has already
// retried.
//
// # Wire protocol
//
// httpx reads and writes the headers of DESIGN.md's wire protocol:
// Callguard-Pushback (milliseconds; negative: don't retry), Retry-After
// ([ParseRetryAfter]) and Callguard-Error ("loop", "hops").
package httpx
