#!/usr/bin/env bash
# The supervisor's footprint: start-up delay and resident memory of `safemig run` with
# nothing to migrate, against running the command directly and under tini (the "tini-style
# direct exec" baseline). Measures the static binary that ships (cargo profile `dist`, musl).
# Needs hyperfine and tini (apt install hyperfine tini) and what scripts/dist-setup installs.
#
#   bench/supervisor.sh            # builds the static binary first
#   SAFEMIG_BIN=dist/safemig-x86_64-unknown-linux-musl bench/supervisor.sh   # a built binary
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bench_need hyperfine tini file
bench_safemig dist
safemig=$(realpath --relative-to=. "$safemig") # the names hyperfine prints stay short
echo "== $safemig: $(stat -c %s "$safemig") bytes; $(file -b "$safemig" | cut -d, -f1-2)"
echo

# A migrated SQLite database with nothing pending, for the default --migrate=deploy.
bench_work
migrations=examples/blog/prisma/migrations
"$safemig" --url "file:$work/app.db" --dir "$migrations" deploy >/dev/null

echo "== start-up: time to run \`true\` (hyperfine, 1000 runs)"
hyperfine --shell=none --warmup 50 --runs 1000 --style basic \
    "true" \
    "tini -s -- true" \
    "$safemig run --migrate=off -- true" \
    "$safemig run --url file:$work/app.db --dir $migrations -- true"

echo
echo "== resident memory while the app (sleep 5) runs (VmRSS)"
rss() {
    "$@" &
    local pid=$!
    sleep 2 # after the supervisor has settled (src/supervisor/footprint.rs)
    awk '/^VmRSS/ {print $2 " " $3}' "/proc/$pid/status"
    kill -TERM "$pid"
    wait "$pid" 2>/dev/null || true
}
printf '%-27s %s\n' "the app alone:" "$(rss sleep 5)"
printf '%-27s %s\n' "tini -s:" "$(rss tini -s -- sleep 5)"
printf '%-27s %s\n' "safemig run --migrate=off:" "$(rss "$safemig" run --migrate=off -- sleep 5 2>/dev/null)"
