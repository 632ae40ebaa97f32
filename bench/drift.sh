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
. "$(dirname "$0")/lib.sh"
bench_corpus trigger-dev-postgresql/migrations
history=$corpus/trigger-dev-postgresql/migrations
bench_need hyperfine python3
bench_need_postgresql
bench_safemig

bench_work
bench_start_pg -c max_locks_per_transaction=1024
bench_header

pg_sql "CREATE DATABASE trigger"
"$safemig" deploy --url "$(pg_url trigger)" --dir "$history" >/dev/null
pg_sql "CREATE DATABASE trigger_copy TEMPLATE trigger"
export SAFEMIG_CACHE_DIR=$work/cache

hyperfine --style basic --warmup 1 --runs 10 --export-json "$work/introspect.json" \
    -n "snapshot (trigger.dev)" "$safemig snapshot --url '$(pg_url trigger)' --output $work/s.json"
hyperfine --style basic --runs 3 --export-json "$work/cold.json" \
    -n "drift, cold" "$safemig drift --no-cache --url '$(pg_url trigger)' --dir $history"
"$safemig" drift --url "$(pg_url trigger)" --dir "$history" >/dev/null # fills the cache
hyperfine --style basic --warmup 1 --runs 10 --export-json "$work/warm.json" \
    -n "drift, warm" "$safemig drift --url '$(pg_url trigger)' --dir $history"

python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet migra 'psycopg[binary]' 'setuptools<81'
hyperfine --style basic --warmup 1 --runs 5 --export-json "$work/peer.json" \
    -n "safemig drift --against" "$safemig drift --url '$(pg_url trigger)' --against '$(pg_url trigger_copy)' --dir $history" \
    -n "migra" "$work/venv/bin/migra --unsafe '$(pg_url trigger)' '$(pg_url trigger_copy)'"

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
    pg_sql "CREATE DATABASE wide_$n"
    generate "$n" | pg_psql "wide_$n"
done
hyperfine --style basic --warmup 1 --runs 5 --export-json "$work/wide.json" \
    -n "snapshot (10,000 tables)" "$safemig snapshot --url '$(pg_url wide_10000)' --output $work/w.json"
queries() {
    SAFEMIG_LOG=sqlx::query=debug "$safemig" snapshot --url "$(pg_url "$1")" 2>&1 >/dev/null | grep -c 'rows_returned\|rows_affected' || true
}
objects() { python3 -c "import json; print(len(json.load(open('$1'))['schema']))"; }

read -r introspect < <(bench_means "$work/introspect.json")
read -r cold < <(bench_means "$work/cold.json")
read -r warm < <(bench_means "$work/warm.json")
read -r ours migra < <(bench_means "$work/peer.json")
read -r wide < <(bench_means "$work/wide.json")
echo
echo "| measurement | mean | goal |"
echo "|---|---|---|"
echo "| introspection of trigger.dev ($(objects "$work/s.json") objects) | ${introspect} s | |"
echo "| drift against the folder, cold (820 migrations replayed) | ${cold} s | ≤ 8 s |"
echo "| drift against the folder, warm (cached replay) | ${warm} s | ≤ 1 s |"
echo "| introspection of 10,000 tables ($(objects "$work/w.json") objects) | ${wide} s | ≤ 5 s |"
echo "| queries sent by introspection: 10 tables / 10,000 tables | $(queries wide_10) / $(queries wide_10000) | equal |"
echo "| trigger.dev against a copy: safemig drift / migra | ${ours} s / ${migra} s (migra takes $(python3 -c "print(f'{$migra / $ours:.1f}')")x as long) | |"
