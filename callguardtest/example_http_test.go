package callguardtest_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/callguard/callguard/callguardtest"
	"github.com/callguard/callguard/httpx"
	"github.com/callguard/callguard/retry"
	"github.com/callguard/callguard/stack"
)

// A test of a client's behaviour against a server that fails twice, then
// recovers. In a test, pass its t instead of new(testing.T).
func ExampleNewHTTPServer() {
	t := new(testing.T) // your test's *testing.T
	s := callguardtest.NewHTTPServer(t, nil, callguardtest.First(2, callguardtest.Unavailable))
	defer s.Close()

	out := stack.Client(stack.WithRetry(retry.WithBackoff(0, 0)))
	client := &http.Client{Transport: httpx.NewTransport(nil, out)}
	resp, err := client.Get(s.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode, s.Requests())
	// Output: 200 3
}
