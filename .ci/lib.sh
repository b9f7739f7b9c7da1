# Sourced by the .ci scripts that start real services on loopback: $ART,
# the directory for artifacts; $work, a directory removed on exit; pids,
# the processes to stop on exit; and install <command> <package>, which
# installs a Debian package when the command is missing.
ART=${CI_ARTIFACTS:-${TMPDIR:-/tmp}/callguard-ci}
mkdir -p "$ART"
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

install() { # install <command> <package>
  command -v "$1" >/dev/null && return 0
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || return 1
    sudo="sudo -n"
  fi
  echo "installing $2"
  DEBIAN_FRONTEND=noninteractive timeout 300 $sudo apt-get install -y -qq "$2" >"$work/apt.log" 2>&1 ||
    { timeout 120 $sudo apt-get update -qq >>"$work/apt.log" 2>&1 &&
      DEBIAN_FRONTEND=noninteractive timeout 300 $sudo apt-get install -y -qq "$2" >>"$work/apt.log" 2>&1; } ||
    { tail -5 "$work/apt.log"; return 1; }
  command -v "$1" >/dev/null
}
