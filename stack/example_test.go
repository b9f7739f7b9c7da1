package stack_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/httpx"
	"github.com/callguard/callguard/stack"
	"github.com/callguard/callguard/ttl"
)

// One line for each side of an HTTP call: the server's pipeline in its
// handler, the client's in its transport.
func Example() {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") })
	srv := httptest.NewServer(httpx.Handler(mux, stack.Server("orders")))
	defer srv.Close()

	client := &http.Client{Transport: httpx.NewTransport(nil, stack.Client(stack.WithName("orders")))}
	resp, err := client.Get(srv.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, string(body))
	// Output: 200 hello
}

func ExampleClient() {
	p := stack.Client(stack.WithName("payments"))
	calls := 0
	err := p.Do(context.Background(), func(context.Context) error {
		if calls++; calls < 3 {
			return errors.New("connection reset")
		}
		return nil
	})
	fmt.Println(err, calls)
	// Output: <nil> 3
}

// A server's pipeline refuses a call loop before the handler runs.
func ExampleServer() {
	p := stack.Server("orders")
	ctx := ttl.Inbound(context.Background(), "", "gateway,orders,billing") // as the adapters read it
	err := p.Do(ctx, func(context.Context) error { return nil })
	fmt.Println(err)
	fmt.Println(callguard.CheckServer(p))
	// Output:
	// ttl: call loop: gateway → orders → billing → orders
	// <nil>
}
