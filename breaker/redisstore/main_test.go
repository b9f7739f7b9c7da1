package redisstore

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

// redisAddr is the address of the Redis server the tests use, or "" with
// skipReason saying why there is none.
var redisAddr, skipReason string

// TestMain finds a Redis server: REDIS_ADDR if set (.ci/redis.sh sets
// it), else one it starts from redis-server on PATH, on a free port of
// 127.0.0.1, and stops at the end. Without either, the tests that need
// Redis skip, saying so.
func TestMain(m *testing.M) {
	redis.SetLogger(quiet{}) // the tests with a store down would log every failed dial
	stop := findRedis()
	code := m.Run()
	stop()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

func findRedis() (stop func()) {
	if a := os.Getenv("REDIS_ADDR"); a != "" {
		redisAddr = a
		return func() {}
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		skipReason = "no Redis: REDIS_ADDR is unset and redis-server is not on PATH (apt-get install redis-server, or run .ci/redis.sh)"
		return func() {}
	}
	port := freePort()
	cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		skipReason = "redis-server did not start: " + err.Error()
		return func() {}
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if rdb.Ping(context.Background()).Err() == nil {
			break
		}
		if time.Now().After(deadline) {
			skipReason = "redis-server did not answer PING within 10 s"
			break
		}
	}
	if skipReason == "" {
		redisAddr = addr
	}
	return func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// client returns a new client of the test Redis, closed at the end of the
// test, or skips t.
func client(t testing.TB) *redis.Client {
	t.Helper()
	if redisAddr == "" {
		t.Skip(skipReason)
	}
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr})
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// uniqueName returns a breaker name of its own for t, so that tests (and
// repeated runs on one server) do not share state.
func uniqueName(t testing.TB) string {
	return fmt.Sprintf("%s-%d", t.Name(), time.Now().UnixNano())
}

type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}
