package httpx

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/breaker"
)

func TestErrorsCarryRequestID(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	url := ts.URL
	ts.Close() // a dead server: every attempt fails with a transport error

	cb := breaker.New(breaker.WithConsecutiveFailures(1))
	client := &http.Client{Transport: NewTransport(http.DefaultTransport.(*http.Transport).Clone(), cb)}
	defer client.CloseIdleConnections()
	ctx := callguard.ContextWithRequestID(context.Background(), "req-9")
	for _, wantOpen := range []bool{false, true} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		_, err := client.Do(req)
		var rid *callguard.RequestIDError
		if !errors.As(err, &rid) || rid.ID != "req-9" || !strings.Contains(err.Error(), "[request req-9]") {
			t.Errorf("Do = %v, want an error that names request req-9", err)
		}
		if got := errors.Is(err, breaker.ErrOpen); got != wantOpen {
			t.Errorf("errors.Is(%v, ErrOpen) = %v, want %v", err, got, wantOpen)
		}
	}
}
