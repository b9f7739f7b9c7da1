#!/usr/bin/env bash
# The status page of otelcallguard's status example in a real headless
# browser (Debian's chromium package): it loads without console errors,
# refreshes itself, shows the breaker closed while the downstream is
# healthy and open after the downstream is made to fail, and a screenshot
# is written to $CI_ARTIFACTS/status-page.png. Installs the package if it
# is missing; skips, saying so, only when it cannot be installed. The
# check is bounded: about 20 s here, at most 80 s.
set -euo pipefail
cd "$(dirname "$0")/.."

. .ci/lib.sh

if ! install chromium chromium; then
  echo "SKIP chromium: the Debian package chromium cannot be installed here"
  exit 0
fi
chromium --version 2>/dev/null | head -1

deadline=$((SECONDS + 80))
# Messages go to stderr: browse's stdout is the page.
fail() { { echo "chromium: FAIL: $*"; [ -f "$work/example.out" ] && tail -20 "$work/example.out"; } >&2; exit 1; }

sandbox=()
[ "$(id -u)" -ne 0 ] || sandbox=(--no-sandbox) # Chromium's sandbox refuses to run as root
# browse <url> <chromium flags...>: a headless load, 5 s of the page's own
# (virtual) time so that its refresh runs; console messages go to
# $work/console.log. The page logs nothing, so any message is an error.
browse() {
  local url=$1; shift
  timeout 40 chromium --headless "${sandbox[@]}" --disable-gpu --disable-dev-shm-usage \
    --user-data-dir="$work/profile" --enable-logging=stderr --v=0 \
    --virtual-time-budget=5000 "$@" "$url" 2>"$work/chromium.err"
  grep -E ':CONSOLE|Uncaught|Refused to' "$work/chromium.err" >"$work/console.log" || true
  if [ -s "$work/console.log" ]; then
    cat "$work/console.log" >&2
    fail "console messages while loading $url"
  fi
}
state() { # the breaker's state, from the page's JSON
  curl -fsS --max-time 2 "http://$admin/status?format=json" |
    tr -d ' \n' | sed -n 's/.*"kind":"breaker","name":"payments".*"breaker":{"state":"\([a-z-]*\)".*/\1/p'
}

(cd otelcallguard && go build -o "$work/status" ./examples/status)
: >"$work/example.out"
# A healthy downstream; it fails when told to (POST /control/fail).
"$work/status" -admin 127.0.0.1:0 -duration 75s -fail-for 0 >"$work/example.out" 2>&1 &
pids+=($!)
admin=""
while [ -z "$admin" ]; do
  [ $SECONDS -lt $deadline ] || fail "the example printed no address"
  admin=$(sed -n 's#^status page: *http://\([^/]*\)/status#\1#p' "$work/example.out" || true)
  sleep 0.2
done
page="http://$admin/status"
echo "status page at $page"

browse "$page" --dump-dom >"$work/healthy.html"
grep -q 'data-kind="breaker" data-name="payments" data-state="closed"' "$work/healthy.html" ||
  fail "healthy downstream: the page does not show breaker payments closed"
grep -q 'data-refreshes="[1-9]' "$work/healthy.html" || fail "the page did not refresh itself"

curl -fsS --max-time 2 -X POST "http://$admin/control/fail?on=true" >/dev/null
until [ "$(state)" = open ]; do
  [ $SECONDS -lt $deadline ] || fail "the breaker did not open after the downstream failed"
  sleep 0.1
done
browse "$page" --dump-dom >"$work/failing.html"
grep -q 'data-kind="breaker" data-name="payments" data-state="open"' "$work/failing.html" ||
  fail "failing downstream: the page does not show breaker payments open"
grep -q 'id="open-breakers">1 open breaker<' "$work/failing.html" || fail "the summary does not count the open breaker"
grep -q 'data-refreshes="[1-9]' "$work/failing.html" || fail "the page did not refresh itself"
cp "$work/failing.html" "$ART/status-page.html"

# The screenshot waits for the open state again: the breaker probes after 1 s.
until [ "$(state)" = open ]; do
  [ $SECONDS -lt $deadline ] || fail "the breaker did not stay open"
  sleep 0.05
done
rm -f "$ART/status-page.png"
browse "$page" --hide-scrollbars --window-size=1280,1400 --virtual-time-budget=500 --screenshot="$ART/status-page.png" >/dev/null
[ -s "$ART/status-page.png" ] && head -c 8 "$ART/status-page.png" | grep -q PNG || fail "no screenshot"
echo "screenshot: $ART/status-page.png ($(wc -c <"$ART/status-page.png") bytes)"
echo "chromium: ok (${SECONDS}s)"
