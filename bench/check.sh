#!/usr/bin/env bash
# `safemig check` over many targets, against a throwaway PostgreSQL server started here
# (temp dir, free loopback port):
#
#  1. 1,000 tenant schemas in one PostgreSQL database (`tenants = { pattern = "tenant_*" }`):
#     one connection, one catalog query, batched history reads;
#  2. 1,000 SQLite databases (`tenants = { files = "sqlite/*.db" }`): a connection each,
#     16 at a time (--jobs);
#  3. one PostgreSQL database.
#
# Each history holds the same three migrations (bench/check.sh writes them), all applied.
# Mean of hyperfine runs; release build. Needs hyperfine, PostgreSQL's server binaries,
# psql and python3.
#
#   bench/check.sh
#   TENANTS=20 bench/check.sh          # a quick trial
set -euo pipefail
. "$(dirname "$0")/lib.sh"
tenants=${TENANTS:-1000}
bench_need hyperfine python3
bench_need_postgresql
bench_safemig

bench_work
bench_start_pg
bench_header

# Three migrations per engine.
bench_three_migrations "$work/pg-migrations" postgresql
bench_three_migrations "$work/sqlite-migrations" sqlite

# 1,000 tenant schemas: the first deployed by safemig, the others copies of its history.
pg_sql "CREATE DATABASE app"
pg_sql "CREATE DATABASE tenants"
"$safemig" deploy --url "$(pg_url app)" --dir "$work/pg-migrations" >/dev/null
"$safemig" deploy --url "$(pg_url tenants)?schema=tenant_0000" --dir "$work/pg-migrations" >/dev/null
python3 - "$tenants" <<'EOF' | pg_psql tenants
import sys
print("BEGIN;")
for i in range(1, int(sys.argv[1])):
    s = f"tenant_{i:04d}"
    print(f'CREATE SCHEMA {s};')
    print(f'CREATE TABLE {s}._prisma_migrations (LIKE tenant_0000._prisma_migrations INCLUDING ALL);')
    print(f'INSERT INTO {s}._prisma_migrations SELECT * FROM tenant_0000._prisma_migrations;')
print("COMMIT;")
EOF

# 1,000 SQLite files: copies of one deployed file.
bench_sqlite_tenants "$work/sqlite" "$work/sqlite-migrations" "$tenants"

cat >"$work/safemig.toml" <<EOF
[environments.schemas]
url = "env:TENANTS_URL"
dir = "pg-migrations"
tenants = { pattern = "tenant_*" }

[environments.files]
dir = "sqlite-migrations"
tenants = { files = "sqlite/*.db" }

[environments.single]
url = "env:APP_URL"
dir = "pg-migrations"
EOF
export TENANTS_URL=$(pg_url tenants) APP_URL=$(pg_url app)
cd "$work"
# Every target must be up to date, or the timings mean nothing.
for env in schemas files single; do
    "$safemig" check --env "$env" >/dev/null || { echo "check --env $env did not pass" >&2; "$safemig" check --env "$env" | tail -5; exit 1; }
done
count() { "$safemig" check --env "$1" --json | python3 -c "import json,sys; print(sum(len(e['targets']) for e in json.load(sys.stdin)['environments']))"; }

hyperfine --style basic --warmup 2 --runs 10 --export-json "$work/schemas.json" \
    -n "check: $tenants tenant schemas" "$safemig check --env schemas"
hyperfine --style basic --warmup 1 --runs 5 --export-json "$work/files.json" \
    -n "check: $tenants SQLite files" "$safemig check --env files"
hyperfine --style basic --warmup 3 --runs 20 --export-json "$work/single.json" \
    -n "check: one database" "$safemig check --env single"

echo
echo "| measurement | mean | goal |"
echo "|---|---|---|"
echo "| check, $(count schemas) tenant schemas on one PostgreSQL server | $(bench_means "$work/schemas.json") s | ≤ 2 s |"
echo "| check, $(count files) SQLite databases (--jobs 16) | $(bench_means "$work/files.json") s | ≤ 5 s |"
echo "| check, one PostgreSQL database | $(bench_means "$work/single.json") s | ≤ 0.1 s |"
