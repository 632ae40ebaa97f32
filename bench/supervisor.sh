#!/usr/bin/env bash
# The supervisor's footprint: start-up delay and resident memory of `safemig run` with
# nothing to migrate, against running the command directly and under tini (the "tini-style
# direct exec" baseline). Needs hyperfine; tini is used when installed (apt install tini).
#
#   bench/supervisor.sh            # builds the release binary first
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
safemig=target/release/safemig
command -v hyperfine >/dev/null || { echo "bench/supervisor.sh needs hyperfine (apt install hyperfine)" >&2; exit 1; }

# A migrated SQLite database with nothing pending, for the default --migrate=deploy.
db_dir=$(mktemp -d)
trap 'rm -rf "$db_dir"' EXIT
migrations=examples/blog/prisma/migrations
"$safemig" --url "file:$db_dir/app.db" --dir "$migrations" deploy >/dev/null

echo "== start-up: time to run \`true\` (hyperfine, 200 runs)"
commands=("true" "$safemig run --migrate=off -- true"
    "$safemig run --url file:$db_dir/app.db --dir $migrations -- true")
if command -v tini >/dev/null; then commands+=("tini -s -- true"); fi
hyperfine --shell=none --warmup 20 --runs 200 --style basic "${commands[@]}"

echo
echo "== resident memory of the supervisor while the app runs (VmRSS)"
rss() {
    "$@" &
    local pid=$!
    sleep 1
    awk '/^VmRSS/ {print $2 " " $3}' "/proc/$pid/status"
    kill -TERM "$pid"
    wait "$pid" 2>/dev/null || true
}
printf 'safemig run: %s\n' "$(rss "$safemig" run --migrate=off -- sleep 5 2>/dev/null)"
if command -v tini >/dev/null; then
    printf 'tini -s:     %s\n' "$(rss tini -s -- sleep 5)"
fi
