#!/usr/bin/env bash
# Tests of the nested module breaker/redisstore against a real redis-server:
# installs Debian's redis-server if it is missing, starts it on 127.0.0.1
# on a free port, runs vet, staticcheck, the tests with -race and the
# benchmarks once, and stops the server on exit, whatever happens.
#
#	.ci/redis.sh
set -euo pipefail
cd "$(dirname "$0")/../breaker/redisstore"

STATICCHECK=honnef.co/go/tools/cmd/staticcheck@v0.8.2

if ! command -v redis-server >/dev/null; then
  sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq redis-server >/dev/null
fi

# A free port: a random one that nothing answers on.
while :; do
  port=$((20000 + RANDOM % 40000))
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
done
dir=$(mktemp -d)
redis-server --bind 127.0.0.1 --port "$port" --save "" --appendonly no --dir "$dir" \
  --daemonize no --logfile "$dir/redis.log" &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$dir"' EXIT

for _ in $(seq 100); do
  if redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG; then break; fi
  sleep 0.1
done
redis-cli -h 127.0.0.1 -p "$port" ping | grep -q PONG || { echo "redis-server did not start:"; cat "$dir/redis.log"; exit 1; }

export REDIS_ADDR="127.0.0.1:$port"
echo "redis-server $(redis-server --version | awk '{print $3}') on $REDIS_ADDR"
go mod download && go mod verify
go vet ./...
go run "$STATICCHECK" ./...
go test -race -count=1 ./...
go test -count=1 -run 'Allocs' ./...
go test -run '^$' -bench . -benchtime 1x ./...
