#!/usr/bin/env bash
# `safemig serve`'s resident memory with 1,000 targets: 1,000 SQLite databases as the
# tenants of one environment (`tenants = { files = "sqlite/*.db" }`), each history the
# same three migrations, all applied. Starts serve (release build, --min-interval 0, so
# every scrape checks all 1,000), scrapes /metrics SCRAPES times (default 5), then reads
# VmRSS (now) and VmHWM (peak) from /proc. Needs curl and python3.
#
#   bench/serve.sh
#   TENANTS=20 SCRAPES=1 bench/serve.sh                                 # a quick trial
#   SAFEMIG_BIN=dist/safemig-x86_64-unknown-linux-musl bench/serve.sh   # a built binary
set -euo pipefail
. "$(dirname "$0")/lib.sh"
tenants=${TENANTS:-1000}
scrapes=${SCRAPES:-5}
bench_need curl python3
bench_safemig

bench_work
bench_three_migrations "$work/migrations" sqlite
bench_sqlite_tenants "$work/sqlite" "$work/migrations" "$tenants"
cat >"$work/safemig.toml" <<EOF
[environments.files]
dir = "migrations"
tenants = { files = "sqlite/*.db" }
EOF

port=$(bench_free_port)
cd "$work"
"$safemig" serve --listen "127.0.0.1:$port" --min-interval 0 2>"$work/serve.log" &
pid=$!
bench_pids+=("$pid")
bench_poll 100 "safemig serve (log: $work/serve.log)" curl -sf "http://127.0.0.1:$port/healthz"

bench_header
started=$(date +%s.%N)
for _ in $(seq "$scrapes"); do curl -sf "http://127.0.0.1:$port/metrics" >"$work/metrics"; done
elapsed=$(python3 -c "print(f'{($(date +%s.%N) - $started) / $scrapes:.3f}')")
up=$(grep -cE '^safemig_up{.*} 1(.0)?$' "$work/metrics" || true)
[ "$up" = "$tenants" ] || { echo "only $up of $tenants targets up" >&2; cat "$work/serve.log" >&2; exit 1; }
kib() { awk -v key="$1:" '$1 == key {print $2}' "/proc/$pid/status"; }
echo
echo "| measurement | value | goal |"
echo "|---|---|---|"
echo "| serve, $tenants SQLite targets: resident memory after $scrapes scrapes (VmRSS) | $(( $(kib VmRSS) / 1024 )) MiB | ≤ 30 MB |"
echo "| serve, $tenants SQLite targets: peak resident memory (VmHWM) | $(( $(kib VmHWM) / 1024 )) MiB | |"
echo "| serve, $tenants SQLite targets: one scrape (every target checked) | $elapsed s | |"
