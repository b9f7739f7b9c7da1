// Command grpc shows callguard's gRPC interceptors at work on both sides of
// a real gRPC connection on 127.0.0.1.
//
// The server runs its handler under a bulkhead of 4 and a timeout; the
// handler takes 20 ms and fails every third request with Unavailable. The
// client runs every call under retry, a circuit breaker, a bulkhead and a
// per-attempt timeout. Three phases — flaky, a burst, and the server gone —
// print what reached the server, what the policies did and which codes the
// callers saw. It takes a few seconds and needs no network beyond loopback.
//
//	go run ./examples/grpc
package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"

	"github.com/callguard/callguard"
	"github.com/callguard/callguard/breaker"
	"github.com/callguard/callguard/bulkhead"
	"github.com/callguard/callguard/grpcx"
	"github.com/callguard/callguard/retry"
	"github.com/callguard/callguard/timeout"
)

// service is grpc's interop TestService: UnaryCall works for 20 ms and fails
// every third request that reaches it.
type service struct {
	testpb.UnimplementedTestServiceServer
	handled, failed atomic.Int64
}

func (s *service) UnaryCall(ctx context.Context, _ *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	if s.handled.Add(1)%3 == 0 {
		s.failed.Add(1)
		return nil, status.Error(codes.Unavailable, "flaky")
	}
	t := time.NewTimer(20 * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
		return &testpb.SimpleResponse{}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// counters of one phase.
type counters struct {
	attempts, retries, shed atomic.Int64 // sent by the client, retried, shed by the server

	mu          sync.Mutex
	codes       map[string]int
	transitions []string
}

func (c *counters) add(outcome string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.codes[outcome]++
}

func (c *counters) outcomes() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(c.codes)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, c.codes[k]))
	}
	return strings.Join(parts, ", ")
}

func main() {
	var cur atomic.Pointer[counters]
	cur.Store(&counters{codes: map[string]int{}})
	st := func() *counters { return cur.Load() }

	// Server: a bulkhead of 4 and a 1 s timeout around every handler.
	svc := &service{}
	in := callguard.Chain(
		bulkhead.New(4, bulkhead.OnFull(func(context.Context) { st().shed.Add(1) })),
		timeout.New(time.Second),
	)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail(err)
	}
	srv := grpc.NewServer(grpc.UnaryInterceptor(grpcx.UnaryServerInterceptor(in)))
	testpb.RegisterTestServiceServer(srv, svc)
	go srv.Serve(lis) //nolint:errcheck // returns when the server stops

	// Client: retry, breaker, bulkhead, per-attempt timeout.
	out := callguard.Chain(
		retry.New(
			retry.WithMaxAttempts(3),
			retry.WithBackoff(5*time.Millisecond, 50*time.Millisecond),
			retry.OnRetry(func(context.Context, int, error, time.Duration) { st().retries.Add(1) }),
		),
		breaker.New(
			breaker.WithName("test-service"),
			breaker.WithOpenTimeout(300*time.Millisecond),
			breaker.OnStateChange(func(_ string, from, to breaker.State) {
				c := st()
				c.mu.Lock()
				defer c.mu.Unlock()
				c.transitions = append(c.transitions, from.String()+"→"+to.String())
			}),
		),
		bulkhead.New(32),
		timeout.New(200*time.Millisecond),
	)
	// countAttempts sits inside grpcx's interceptor: it sees every attempt.
	countAttempts := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		st().attempts.Add(1)
		return invoker(ctx, method, req, reply, cc, opts...)
	}
	conn, err := grpc.NewClient(lis.Addr().String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDisableRetry(), // callguard retries; gRPC's retries would multiply its attempts
		grpc.WithChainUnaryInterceptor(grpcx.UnaryClientInterceptor(out), countAttempts),
	)
	if err != nil {
		fail(err)
	}
	defer conn.Close()
	client := testpb.NewTestServiceClient(conn)

	call := func() {
		_, err := client.UnaryCall(context.Background(), &testpb.SimpleRequest{})
		outcome := status.Code(err).String()
		switch {
		case errors.Is(err, breaker.ErrOpen):
			outcome += " (breaker open)"
		case errors.Is(err, bulkhead.ErrFull):
			outcome += " (client bulkhead full)"
		case errors.Is(err, callguard.ErrOverloaded):
			outcome += " (shed, do not retry)"
		}
		st().add(outcome)
	}

	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "phase\tcalls\tattempts\tretries\tserver handled\tserver failed\tserver shed\tbreaker\tcallers saw")
	phase := func(name string, calls int, concurrent bool) {
		c := &counters{codes: map[string]int{}}
		cur.Store(c)
		handled, failed := svc.handled.Load(), svc.failed.Load()
		var wg sync.WaitGroup
		for range calls {
			if concurrent {
				wg.Go(call)
			} else {
				call()
			}
		}
		wg.Wait()
		tr := strings.Join(c.transitions, " ")
		if tr == "" {
			tr = "-"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\n", name, calls, c.attempts.Load(), c.retries.Load(),
			svc.handled.Load()-handled, svc.failed.Load()-failed, c.shed.Load(), tr, c.outcomes())
	}

	phase("flaky", 30, false)
	phase("burst", 24, true)
	time.Sleep(350 * time.Millisecond) // let a breaker the burst opened probe again
	srv.Stop()
	phase("down", 12, false)
	tw.Flush()

	fmt.Println(`
flaky  the server fails every third request with Unavailable; retry repeats those attempts and every call succeeds.
burst  24 calls at once meet a server bulkhead of 4: the server sheds the rest with Unavailable and
       grpc-retry-pushback-ms: -1, and the client does not retry them. Enough failures in a row open the breaker.
down   the server is gone. Attempts fail with Unavailable (connection refused) until the breaker opens; if the
       burst left it open, its one probe fails and it opens again. From then on calls fail at once with
       breaker.ErrOpen, status Unavailable, and nothing is sent.`)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
