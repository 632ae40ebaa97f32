#!/usr/bin/env bash
# `safemig repair` classifying a failed migration, against throwaway servers started here
# (temp dir, free loopback ports):
#
#  1. PostgreSQL: trigger.dev's history (the corpus's 820 migrations) deployed but the last,
#     which failed as Prisma leaves it (nothing of it applied, a failed row). Cold
#     (`--no-cache`: the 819 before it replayed into a scratch database, then its
#     statements run one at a time with a snapshot after each) and warm (the states read
#     from the cache), side by side with their floors: `safemig drift --no-cache` (the
#     same replay and introspections, without the failed migration's states) and
#     `safemig snapshot` (one introspection of the live database, which warm repair needs
#     too).
#  2. MariaDB: evolution-api's MySQL history, its last migration failed after half of its
#     statements; the same four commands.
#
# Mean of hyperfine runs; release build. Needs hyperfine, PostgreSQL's and MariaDB's
# server binaries, psql, the mariadb client and python3.
#
#   bench/repair.sh                          # ../shared/corpus, or SAFEMIG_CORPUS
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bench_corpus trigger-dev-postgresql/migrations evolution-api-mysql/migrations
pg_history=$corpus/trigger-dev-postgresql/migrations
my_history=$corpus/evolution-api-mysql/migrations
bench_need hyperfine python3
bench_need_postgresql
bench_need_mariadb
bench_safemig

bench_work

# A copy of `history` holding its migrations up to the last, whose first `k` statements
# (0: half of them) are applied by `apply` (a command reading SQL on stdin), then the
# failed row Prisma leaves is written by `record` (a command reading SQL on stdin).
fail_last() {
    local history=$1 copy=$2 apply=$3 uuid=$4
    cp -r "$history" "$copy"
    local last
    last=$(find "$copy" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | sort | tail -1)
    "$safemig" split --json "$copy/$last/migration.sql" >"$work/statements.json"
    python3 - "$work/statements.json" <<'EOF' | $apply
import json, sys
statements = json.load(open(sys.argv[1]))
for s in statements[: len(statements) // 2]:
    print(s["sql"].rstrip().rstrip(";") + ";")
EOF
    local checksum
    checksum=$(sha256sum "$copy/$last/migration.sql" | cut -d' ' -f1)
    echo "INSERT INTO _prisma_migrations (id, checksum, migration_name, logs, started_at, applied_steps_count) VALUES ($uuid, '$checksum', '$last', 'Error: server closed the connection unexpectedly', CURRENT_TIMESTAMP, 0);" | $apply
    echo "$last: $(python3 -c "import json; print(len(json.load(open('$work/statements.json'))))") statements, failed after $(python3 -c "import json; print(len(json.load(open('$work/statements.json'))) // 2)")" >&2
}

bench_start_pg -c max_locks_per_transaction=1024
pg_sql "CREATE DATABASE trigger"
bench_start_mariadb
my_sql "CREATE DATABASE evolution"
bench_header
export SAFEMIG_CACHE_DIR=$work/cache

for engine in pg my; do
    if [ $engine = pg ]; then history=$pg_history apply="pg_psql trigger" uuid="gen_random_uuid()::text" u=$(pg_url trigger); else history=$my_history apply="my_client evolution" uuid="UUID()" u=$(my_url evolution); fi
    copy=$work/$engine-migrations
    # All but the last, deployed; then the last failed half-way.
    cp -r "$history" "$work/$engine-before"
    rm -rf "$work/$engine-before/$(find "$history" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | sort | tail -1)"
    "$safemig" deploy --url "$u" --dir "$work/$engine-before" >/dev/null
    fail_last "$history" "$copy" "$apply" "$uuid"
    "$safemig" repair --url "$u" --dir "$copy" >"$work/$engine-report.txt" || true
    grep '^Verdict' "$work/$engine-report.txt" >&2
    hyperfine --style basic --runs 3 --export-json "$work/$engine-cold.json" \
        -n "repair, cold" "$safemig repair --no-cache --url '$u' --dir $copy >/dev/null || true" \
        -n "drift, cold (floor)" "$safemig drift --no-cache --url '$u' --dir $copy || true"
    "$safemig" repair --url "$u" --dir "$copy" >/dev/null || true # fills the cache
    hyperfine --style basic --warmup 1 --runs 10 --export-json "$work/$engine-warm.json" \
        -n "repair, warm" "$safemig repair --url '$u' --dir $copy >/dev/null || true" \
        -n "snapshot (floor)" "$safemig snapshot --url '$u' --output $work/s.json"
done

read -r pg_cold pg_drift < <(bench_means "$work/pg-cold.json")
read -r pg_warm pg_snap < <(bench_means "$work/pg-warm.json")
read -r my_cold my_drift < <(bench_means "$work/my-cold.json")
read -r my_warm my_snap < <(bench_means "$work/my-warm.json")
echo
echo "| measurement | repair | floor | goal |"
echo "|---|---|---|---|"
echo "| PostgreSQL, trigger.dev's last migration failed, cold (819 replayed + its states) | ${pg_cold} s | drift --no-cache ${pg_drift} s | ≤ 12 s |"
echo "| PostgreSQL, the same, warm (states cached) | ${pg_warm} s | snapshot ${pg_snap} s | ≤ 2 s |"
echo "| MariaDB, evolution-api's last migration failed half-way, cold | ${my_cold} s | drift --no-cache ${my_drift} s | |"
echo "| MariaDB, the same, warm | ${my_warm} s | snapshot ${my_snap} s | |"
