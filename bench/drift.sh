#!/usr/bin/env bash
# Drift on PostgreSQL, against a throwaway server started here (temp dir, free loopback port):
#
#  1. introspection of trigger.dev's schema (the corpus's 820 migrations): `safemig snapshot`;
#  2. `safemig drift` of that database against its migrations folder, cold (`--no-cache`:
#     the 820 migrations replayed into a scratch database, then both sides introspected)
#     and warm (the replay read from the cache);
#  3. the same database compared with a copy of itself: `safemig drift --against` and
#     migra (PyPI; the peer: it also introspects both sides and diffs them), side by side;
#  4. introspection of a generated schema of 10,000 tables (each with a primary key, four
#     columns, an index and a foreign key), and how many queries introspection sends for 10
#     tables and for 10,000 (it must not depend on the number of tables).
#
# Mean of hyperfine runs; release build. Needs hyperfine, PostgreSQL's server binaries,
# psql and python3 (migra and psycopg are installed from PyPI into a venv in the temp dir).
#
#   bench/drift.sh                          # ../shared/corpus, or SAFEMIG_CORPUS
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=${SAFEMIG_CORPUS:-$PWD/../shared/corpus}
history=$corpus/trigger-dev-postgresql/migrations
[ -d "$history" ] || { echo "bench/drift.sh needs the corpus at $corpus (SAFEMIG_CORPUS)" >&2; exit 1; }
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
for tool in hyperfine psql python3 "$pgbin/initdb"; do
    command -v "$tool" >/dev/null || { echo "bench/drift.sh needs $tool" >&2; exit 1; }
done
cargo build --release --quiet
safemig=$PWD/target/release/safemig

work=$(mktemp -d)
chmod 755 "$work"
cleanup() {
    [ -f "$work/pg/data/postmaster.pid" ] && run_pg "$pgbin/pg_ctl" -D "$work/pg/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

# PostgreSQL refuses to run as root: as the `postgres` user when we are root.
run_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$work/pg"
[ "$(id -u)" = 0 ] && chown postgres "$work/pg"
echo pw >"$work/pw" && chmod 644 "$work/pw"
run_pg "$pgbin/initdb" -D "$work/pg/data" -U postgres --auth=scram-sha-256 -E UTF8 --locale=C --no-sync --pwfile="$work/pw" >/dev/null
run_pg "$pgbin/pg_ctl" -D "$work/pg/data" -l "$work/pg/log" -w \
    -o "-p $port -k $work/pg -c listen_addresses=127.0.0.1 -c fsync=off -c max_locks_per_transaction=1024" start >/dev/null
export PGPASSWORD=pw
url() { echo "postgresql://postgres:pw@127.0.0.1:$port/$1"; }
sql() { psql -q -h 127.0.0.1 -p "$port" -U postgres -d "${2:-postgres}" -v ON_ERROR_STOP=1 -c "$1" >/dev/null; }

echo "PostgreSQL $("$pgbin/postgres" --version | awk '{print $3}'), safemig $($safemig --version | head -1 | awk '{print $2}'), $(nproc) cores, $(date -u +%Y-%m-%d)"

sql "CREATE DATABASE trigger"
"$safemig" deploy --url "$(url trigger)" --dir "$history" >/dev/null
sql "CREATE DATABASE trigger_copy TEMPLATE trigger"
export SAFEMIG_CACHE_DIR=$work/cache

hyperfine --style basic --warmup 1 --runs 10 --export-json "$work/introspect.json" \
    -n "snapshot (trigger.dev)" "$safemig snapshot --url '$(url trigger)' --output $work/s.json"
hyperfine --style basic --runs 3 --export-json "$work/cold.json" \
    -n "drift, cold" "$safemig drift --no-cache --url '$(url trigger)' --dir $history"
"$safemig" drift --url "$(url trigger)" --dir "$history" >/dev/null # fills the cache
hyperfine --style basic --warmup 1 --runs 10 --export-json "$work/warm.json" \
    -n "drift, warm" "$safemig drift --url '$(url trigger)' --dir $history"

python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet migra 'psycopg[binary]' 'setuptools<81'
hyperfine --style basic --warmup 1 --runs 5 --export-json "$work/peer.json" \
    -n "safemig drift --against" "$safemig drift --url '$(url trigger)' --against '$(url trigger_copy)' --dir $history" \
    -n "migra" "$work/venv/bin/migra --unsafe '$(url trigger)' '$(url trigger_copy)'"

# 10,000 tables in one schema, in batches of 500 per transaction.
generate() {
    python3 - "$1" <<'EOF'
import sys
n = int(sys.argv[1])
for start in range(0, n, 500):
    print("BEGIN;")
    for i in range(start, min(start + 500, n)):
        parent = f', "parent" INTEGER REFERENCES "t{i - 1}"("id") ON DELETE CASCADE' if i else ''
        print(f'CREATE TABLE "t{i}" ("id" SERIAL PRIMARY KEY, "name" TEXT NOT NULL, '
              f'"created" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP, "score" INTEGER DEFAULT 0{parent});')
        print(f'CREATE INDEX "t{i}_name_idx" ON "t{i}"("name");')
    print("COMMIT;")
EOF
}
for n in 10 10000; do
    sql "CREATE DATABASE wide_$n"
    generate "$n" | psql -q -h 127.0.0.1 -p "$port" -U postgres -d "wide_$n" -v ON_ERROR_STOP=1 >/dev/null
done
hyperfine --style basic --warmup 1 --runs 5 --export-json "$work/wide.json" \
    -n "snapshot (10,000 tables)" "$safemig snapshot --url '$(url wide_10000)' --output $work/w.json"
queries() {
    SAFEMIG_LOG=sqlx::query=debug "$safemig" snapshot --url "$(url "$1")" 2>&1 >/dev/null | grep -c 'rows_returned\|rows_affected' || true
}
objects() { python3 -c "import json; print(len(json.load(open('$1'))['schema']))"; }

mean() { python3 -c "import json; r = json.load(open('$1'))['results']; print(' '.join(f'{x[\"mean\"]:.3f}' for x in r))"; }
read -r introspect < <(mean "$work/introspect.json")
read -r cold < <(mean "$work/cold.json")
read -r warm < <(mean "$work/warm.json")
read -r ours migra < <(mean "$work/peer.json")
read -r wide < <(mean "$work/wide.json")
echo
echo "| measurement | mean | goal |"
echo "|---|---|---|"
echo "| introspection of trigger.dev ($(objects "$work/s.json") objects) | ${introspect} s | |"
echo "| drift against the folder, cold (820 migrations replayed) | ${cold} s | ≤ 8 s |"
echo "| drift against the folder, warm (cached replay) | ${warm} s | ≤ 1 s |"
echo "| introspection of 10,000 tables ($(objects "$work/w.json") objects) | ${wide} s | ≤ 5 s |"
echo "| queries sent by introspection: 10 tables / 10,000 tables | $(queries wide_10) / $(queries wide_10000) | equal |"
echo "| trigger.dev against a copy: safemig drift / migra | ${ours} s / ${migra} s (migra takes $(python3 -c "print(f'{$migra / $ours:.1f}')")x as long) | |"
