package httpx_test

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/callguard/callguard/httpx"
)

// Hedgeable says which requests a transport whose policy hedges may send
// twice at once: idempotent methods, and requests with an Idempotency-Key.
func ExampleHedgeable() {
	get, _ := http.NewRequest(http.MethodGet, "http://catalog/items/7", nil)
	post, _ := http.NewRequest(http.MethodPost, "http://orders/", strings.NewReader("{}"))
	keyed, _ := http.NewRequest(http.MethodPost, "http://orders/", strings.NewReader("{}"))
	keyed.Header.Set("Idempotency-Key", "order-7f3a")
	fmt.Println(httpx.Hedgeable(get), httpx.Hedgeable(post), httpx.Hedgeable(keyed))
	// Output: true false true
}
