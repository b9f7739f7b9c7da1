#!/usr/bin/env bash
# A real Prometheus server (Debian's prometheus package) scrapes the
# /metrics of otelcallguard's status example, and a PromQL query through
# Prometheus's HTTP API must return the breaker state series, with the
# example's breaker open. Installs the package if it is missing; skips,
# saying so, only when it cannot be installed. The check is bounded: about
# 15 s here, at most 80 s.
set -euo pipefail
cd "$(dirname "$0")/.."

. .ci/lib.sh

if ! install prometheus prometheus; then
  echo "SKIP prometheus: the Debian package prometheus cannot be installed here"
  exit 0
fi
prometheus --version 2>&1 | head -1

deadline=$((SECONDS + 80))
fail() { echo "prometheus: FAIL: $*"; [ -f "$work/example.out" ] && tail -20 "$work/example.out"; [ -f "$work/prom.log" ] && tail -20 "$work/prom.log"; exit 1; }
free_port() { # a port on 127.0.0.1 nothing listens on
  local p
  for p in $(seq "$1" $(($1 + 50))); do
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
  return 1
}

(cd otelcallguard && go build -o "$work/status" ./examples/status)
# The downstream fails from the first second on, so that the breaker opens.
: >"$work/example.out"
"$work/status" -admin 127.0.0.1:0 -duration 75s -fail-at 1s -fail-for 75s >"$work/example.out" 2>&1 &
pids+=($!)
admin=""
while [ -z "$admin" ]; do
  [ $SECONDS -lt $deadline ] || fail "the example printed no address"
  admin=$(sed -n 's#^metrics: *http://\([^/]*\)/metrics#\1#p' "$work/example.out" || true)
  sleep 0.2
done
echo "example's metrics at http://$admin/metrics"

port=$(free_port 19090) || fail "no free port for prometheus"
cat >"$work/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: callguard-status-example
    static_configs:
      - targets: ['$admin']
YML
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/data" \
  --web.listen-address="127.0.0.1:$port" >"$work/prom.log" 2>&1 &
pids+=($!)

query='callguard_breaker_state{callguard_policy_name="payments",callguard_breaker_state="open"} == 1'
api="http://127.0.0.1:$port/api/v1/query"
while :; do
  [ $SECONDS -lt $deadline ] || fail "no open breaker series from $api within the time limit"
  out=$(curl -fsS --max-time 2 -G "$api" --data-urlencode "query=$query" 2>/dev/null || true)
  if printf '%s' "$out" | grep -q '"callguard_breaker_state":"open"'; then
    break
  fi
  sleep 1
done
all=$(curl -fsS --max-time 2 -G "$api" --data-urlencode 'query=count(callguard_breaker_state{callguard_policy_name="payments"})')
printf '%s\n' "$out" >"$ART/prometheus-query.json"
echo "PromQL: $query"
echo "  -> $out"
echo "count of payments breaker state series: $all"
printf '%s' "$all" | grep -q '"value":\[[0-9.]*,"5"\]' || fail "want 5 state series (one per state), got $all"
echo "prometheus: ok (${SECONDS}s)"
