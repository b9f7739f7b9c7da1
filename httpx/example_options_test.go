package httpx_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/callguard/callguard/httpx"
)

// The server takes the margin, as in grpcx: NewTransport sends all the time
// the caller has left in Callguard-Timeout, and the Handler gives its
// handler that less the margin, so that the answer reaches the caller in
// time. A HandlerOption given to NewTransport does not compile; nil
// policies mean propagation only.
func ExampleWithDeadlineMargin() {
	srv := httptest.NewServer(httpx.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		dl, _ := r.Context().Deadline()
		fmt.Println("handler has", time.Until(dl).Round(100*time.Millisecond))
	}), nil, httpx.WithDeadlineMargin(500*time.Millisecond)))
	defer srv.Close()
	client := &http.Client{Transport: httpx.NewTransport(nil, nil)}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	resp, err := client.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	// Output:
	// handler has 1.5s
}
