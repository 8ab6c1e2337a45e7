#!/usr/bin/env bash
# Requests per second through the whole server (TLS, HTTP, middleware,
# handler) with the WAF in `block` mode and `off`, side by side in one run
# (issue 6). Needs wrk (`apt-get install wrk`) and a release build:
#   cargo build --release -p anshin --bin anshin
#   bench/server-waf/run.sh [seconds per figure, default 10] [rounds, default 2]
set -euo pipefail
cd "$(dirname "$0")"
bin=../../target/release/anshin
secs=${1:-10}
rounds=${2:-2}
[ -x "$bin" ] || { echo "build first: cargo build --release -p anshin --bin anshin" >&2; exit 1; }
command -v wrk >/dev/null || { echo "install wrk: apt-get install wrk" >&2; exit 1; }

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "${dirs[@]}"; }
dirs=()
trap cleanup EXIT
start() { # mode public redirect ops
  local d; d=$(mktemp -d); dirs+=("$d")
  ANSHIN_DATA_DIR="$d" ANSHIN_WAF__MODE="$1" ANSHIN_LOG__LEVEL=warn \
    ANSHIN_LISTEN__PUBLIC="127.0.0.1:$2" ANSHIN_LISTEN__REDIRECT="127.0.0.1:$3" \
    ANSHIN_LISTEN__OPS="127.0.0.1:$4" ANSHIN_LISTEN__STAFF="127.0.0.1:0" ANSHIN_SITE__BASE_URL="https://localhost:$2" \
    "$bin" serve >"$d/log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do
    curl -sk -o /dev/null "https://127.0.0.1:$2/" && return 0
    sleep 0.2
  done
  cat "$d/log" >&2; echo "server ($1) did not start" >&2; exit 1
}
start block 18443 18080 19090
start off 28443 28080 29090

rate() { # script port
  wrk -t2 -c50 -d"${secs}s" -s "$1" "https://127.0.0.1:$2/$3" 2>/dev/null | awk '/Requests\/sec/ {print $2}'
}
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| round | request | WAF off (req/s) | WAF block (req/s) | block / off |"
echo "|---|---|---:|---:|---:|"
figure() { # round name script path
  local off block
  off=$(rate "$3" 28443 "$4")
  block=$(rate "$3" 18443 "$4")
  echo "| $1 | $2 | $off | $block | $(awk -v a="$block" -v b="$off" 'BEGIN { printf "%.2f", a / b }') |"
}
for r in $(seq 1 "$rounds"); do
  figure "$r" "GET /" get.lua ""
  figure "$r" "POST /settings/language, 2 KB form" form.lua settings/language
done
