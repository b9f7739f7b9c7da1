package probe

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/internal/propagation"
)

// maxBody bounds how much of a response body an [HTTP] step reads: the
// step's latency includes the body, as a user's would.
const maxBody = 1 << 20

// HTTP returns a step named name that sends a request, method to url with
// body (nil for none), through client (nil means [http.DefaultClient])
// with the run's context, reads up to 1 MiB of the response body, and
// fails on an error or a status other than 2xx. The request carries the
// run's request id (X-Request-Id) and synthetic mark
// (Callguard-Synthetic) even through a client without httpx; through
// httpx.NewTransport it carries the rest of the callguard headers too. It
// panics if method or url is not valid.
func HTTP(name string, client *http.Client, method, url string, body []byte) Step {
	if _, err := http.NewRequest(method, url, nil); err != nil {
		panic(fmt.Sprintf("probe: HTTP step %s: %v", name, err))
	}
	if client == nil {
		client = http.DefaultClient
	}
	return Step{Name: name, Do: func(ctx context.Context) error {
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body) // NewRequest sets GetBody: a retry can resend it
		}
		req, err := http.NewRequestWithContext(ctx, method, url, rd)
		if err != nil {
			return err
		}
		if id := callguard.RequestIDFromContext(ctx); id != "" {
			req.Header.Set(propagation.RequestID.Header(), id)
		}
		if callguard.IsSynthetic(ctx) {
			req.Header.Set(propagation.Synthetic.Header(), "1")
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			return &StatusError{Method: method, URL: url, StatusCode: resp.StatusCode}
		}
		return err
	}}
}

// A StatusError is the failure of an [HTTP] step that got a response with
// a status other than 2xx.
type StatusError struct {
	Method, URL string
	StatusCode  int
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("probe: %s %s: %d %s", e.Method, e.URL, e.StatusCode, http.StatusText(e.StatusCode))
}
