#!/usr/bin/env bash
# `safemig serve`'s resident memory with 1,000 targets: 1,000 SQLite databases as the
# tenants of one environment (`tenants = { files = "sqlite/*.db" }`), each history the
# same three migrations, all applied. Starts serve (release build, --min-interval 0, so
# every scrape checks all 1,000), scrapes /metrics SCRAPES times (default 5), then reads
# VmRSS (now) and VmHWM (peak) from /proc. Needs curl and python3.
#
#   bench/serve.sh
#   SAFEMIG_BIN=dist/safemig-x86_64-unknown-linux-musl bench/serve.sh   # a built binary
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in curl python3; do
    command -v "$tool" >/dev/null || { echo "bench/serve.sh needs $tool" >&2; exit 1; }
done
if [ -n "${SAFEMIG_BIN:-}" ]; then
    safemig=$(realpath "$SAFEMIG_BIN")
else
    cargo build --release --quiet
    safemig=$PWD/target/release/safemig
fi
tenants=${TENANTS:-1000}
scrapes=${SCRAPES:-5}

work=$(mktemp -d)
pid=""
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

folder="$work/migrations"
mkdir -p "$folder/20240101000000_init" "$folder/20240102000000_posts" "$folder/20240103000000_tags"
echo 'provider = "sqlite"' >"$folder/migration_lock.toml"
echo 'CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(100));' >"$folder/20240101000000_init/migration.sql"
echo 'CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER);' >"$folder/20240102000000_posts/migration.sql"
echo 'CREATE TABLE tags (id INTEGER PRIMARY KEY, name VARCHAR(50));' >"$folder/20240103000000_tags/migration.sql"
mkdir -p "$work/sqlite"
"$safemig" deploy --url "file:$work/sqlite/t0000.db" --dir "$folder" >/dev/null
for i in $(seq 1 $((tenants - 1))); do cp "$work/sqlite/t0000.db" "$work/sqlite/t$(printf %04d "$i").db"; done
cat >"$work/safemig.toml" <<EOF
[environments.files]
dir = "migrations"
tenants = { files = "sqlite/*.db" }
EOF

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cd "$work"
"$safemig" serve --listen "127.0.0.1:$port" --min-interval 0 2>"$work/serve.log" &
pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done

echo "safemig $($safemig --version | head -1 | awk '{print $2}'), $(nproc) cores, $(date -u +%Y-%m-%d)"
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
