package grpcx_test

import (
	"context"
	"crypto/tls"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/breaker"
	"github.com/callguard/callguard/grpcx"
	"github.com/callguard/callguard/retry"
	testpb "google.golang.org/grpc/interop/grpc_testing"
)

// TestUntrustedCertificateNotRetried: a client that refuses a real TLS
// server's certificate makes one attempt per call, and its breaker, which
// counts only the server's faults, stays closed. Before, each call made 3
// attempts and two calls opened a default breaker.
func TestUntrustedCertificateNotRetried(t *testing.T) {
	self := httptest.NewTLSServer(nil) // for its self-signed certificate
	certs := self.TLS.Certificates
	self.Close()
	addr := startServer(t, &testServer{}, grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: certs})))

	var attempts atomic.Int64
	count := callguard.PolicyFunc(func(next callguard.Handler) callguard.Handler {
		return func(ctx context.Context, call func(context.Context) error) error {
			attempts.Add(1)
			return next(ctx, call)
		}
	})
	cb := breaker.New()
	p := callguard.Chain(retry.New(retry.WithBackoff(0, 0)), cb, count)
	conn, err := grpc.NewClient(addr,
		append([]grpc.DialOption{grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{}))}, grpcx.DialOptions(p)...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := testpb.NewTestServiceClient(conn)
	for range 3 {
		_, err = c.UnaryCall(testCtx(t), &testpb.SimpleRequest{})
		if !callguard.IsPermanent(err) {
			t.Fatalf("UnaryCall to an untrusted server = %v, want a permanent error", err)
		}
	}
	if n := attempts.Load(); n != 3 {
		t.Errorf("%d attempts for 3 calls, want 3: a refused certificate is not retried", n)
	}
	if st := cb.State(); st != breaker.Closed {
		t.Errorf("breaker %v after refused certificates, want closed", st)
	}
}
