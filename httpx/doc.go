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
// outermost: Chain(a, b) runs a around b around the attempt. A nil policy
// means no policy: the transport and the Handler then only carry the
// request's context across. NewTransport takes [TransportOption]s and
// Handler [HandlerOption]s; an option of one side does not compile on the
// other.
//
// # Client: responses become errors, and back
//
// [NewTransport] runs each request through the policy. Each attempt's
// response or transport error is classified into the error the policy sees
// ([Classify]): 502, 503, 504, 429 and transport errors are failures that
// retry may retry and a breaker counts; a 500, and a transport error after
// the request may have reached the server, are retried only for idempotent
// requests ([callguard.NoRetry] otherwise); other 4xx, and the caller's
// own errors (an unsupported scheme, an invalid header, a certificate that
// does not verify), are [callguard.Permanent]. Retry-After and Callguard-Pushback turn 429 and 503
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
// # Across services: hops, loops, deadlines, request ids
//
// A handler that calls another service with its request's context, through
// a client whose transport is [NewTransport], passes on the request's hop
// budget, call path, deadline and request id with no code of its own:
// [Handler] reads them into the context, [NewTransport] writes them on
// each attempt. So a cycle in the call graph (a → b → c → a) is refused on
// its second arrival at a, with 508 Loop Detected, before a's handler runs
// again; a chain deeper than the hop budget stops there; and a tier that
// cannot finish before its caller's deadline is not started:
//
//	in := callguard.Chain(ttl.New(ttl.WithService("orders")), bulkhead.New(256))
//	srv := &http.Server{Handler: httpx.Handler(mux, in, httpx.WithMinServiceTime(20*time.Millisecond))}
//	// in mux's handlers:
//	req, _ := http.NewRequestWithContext(r.Context(), "GET", billingURL, nil)
//	resp, err := client.Do(req) // client.Transport is an httpx.NewTransport
//	if err == nil {
//		err = httpx.ResponseError(resp) // a 508 loop: a *ttl.LoopError, path and all
//	}
//	if err != nil {
//		httpx.Error(w, err) // passes the loop, with its path, up to the caller
//		return
//	}
//
// Servers that face untrusted clients take [Edge]: it ignores the hop
// budget, path and priority that a client claims, and caps its deadline.
//
// # Wire protocol
//
// httpx reads and writes the headers of the wire protocol (docs/design.md):
// Callguard-Hops, Callguard-Path (package ttl's codecs), Callguard-Timeout
// (grpc-timeout syntax, package timeout's codec), Callguard-Priority
// (package loadshed's; sent only when not the default), X-Request-Id,
// Callguard-Pushback (milliseconds; negative: don't retry), Retry-After
// ([ParseRetryAfter]) and Callguard-Error ("loop", "hops"). A 508 answer
// for a loop also carries Callguard-Path: the loop's path.
package httpx
