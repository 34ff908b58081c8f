#!/usr/bin/env bash
# Install the system packages the harness needs (Debian): Chromium (and its fast headless
# shell) for the browser scenarios, redis-server for the Redis store, wrk for the benchmark,
# libfaketime (and the faketime command) to move the clock of a target the harness starts itself.
# Runs apt-get only as root and only for what is missing; elsewhere it says what to install.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || [ -n "${CHROMIUM:-}" ] || need+=(chromium)
[ -x /usr/bin/chromium-headless-shell ] || [ -x /usr/lib/chromium/chromium-headless-shell ] || need+=(chromium-headless-shell)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v wrk >/dev/null 2>&1 || need+=(wrk)
command -v faketime >/dev/null 2>&1 || need+=(faketime)
ls /usr/lib/*/faketime/libfaketime.so.1 >/dev/null 2>&1 || need+=(libfaketime)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing system packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  if ! apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null; then
    # chromium-headless-shell is an optimisation: carry on without it if this release lacks it
    rest=(); for p in "${need[@]}"; do [ "$p" = chromium-headless-shell ] || rest+=("$p"); done
    [ ${#rest[@]} -eq 0 ] || apt-get install -y -q --no-install-recommends "${rest[@]}" >/dev/null
  fi
else
  echo "note: missing system packages (${need[*]}); install them (Debian: apt-get install ${need[*]})," >&2
  echo "      or set CHROMIUM=/path/to/chrome; tests that need a missing one are skipped with a reason." >&2
fi
