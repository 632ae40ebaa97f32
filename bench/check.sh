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
set -euo pipefail
cd "$(dirname "$0")/.."
pgbin=$(dirname "$(command -v initdb 2>/dev/null || ls -d /usr/lib/postgresql/*/bin/initdb | sort -V | tail -1)")
for tool in hyperfine psql python3 "$pgbin/initdb"; do
    command -v "$tool" >/dev/null || { echo "bench/check.sh needs $tool" >&2; exit 1; }
done
cargo build --release --quiet
safemig=$PWD/target/release/safemig
tenants=${TENANTS:-1000}

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
    -o "-p $port -k $work/pg -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
export PGPASSWORD=pw
url() { echo "postgresql://postgres:pw@127.0.0.1:$port/$1"; }
sql() { psql -q -h 127.0.0.1 -p "$port" -U postgres -d "${2:-postgres}" -v ON_ERROR_STOP=1 -c "$1" >/dev/null; }

echo "PostgreSQL $("$pgbin/postgres" --version | awk '{print $3}'), safemig $($safemig --version | head -1 | awk '{print $2}'), $(nproc) cores, $(date -u +%Y-%m-%d)"

# Three migrations per engine.
folder() {
    mkdir -p "$work/$1/20240101000000_init" "$work/$1/20240102000000_posts" "$work/$1/20240103000000_tags"
    echo "provider = \"$2\"" >"$work/$1/migration_lock.toml"
    echo 'CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(100));' >"$work/$1/20240101000000_init/migration.sql"
    echo 'CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER);' >"$work/$1/20240102000000_posts/migration.sql"
    echo 'CREATE TABLE tags (id INTEGER PRIMARY KEY, name VARCHAR(50));' >"$work/$1/20240103000000_tags/migration.sql"
}
folder pg-migrations postgresql
folder sqlite-migrations sqlite

# 1,000 tenant schemas: the first deployed by safemig, the others copies of its history.
sql "CREATE DATABASE app"
sql "CREATE DATABASE tenants"
"$safemig" deploy --url "$(url app)" --dir "$work/pg-migrations" >/dev/null
"$safemig" deploy --url "$(url tenants)?schema=tenant_0000" --dir "$work/pg-migrations" >/dev/null
python3 - "$tenants" <<'EOF' | psql -q -h 127.0.0.1 -p "$port" -U postgres -d tenants -v ON_ERROR_STOP=1 >/dev/null
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
mkdir -p "$work/sqlite"
"$safemig" deploy --url "file:$work/sqlite/t0000.db" --dir "$work/sqlite-migrations" >/dev/null
for i in $(seq 1 $((tenants - 1))); do cp "$work/sqlite/t0000.db" "$work/sqlite/t$(printf %04d "$i").db"; done

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
export TENANTS_URL=$(url tenants) APP_URL=$(url app)
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

mean() { python3 -c "import json; r = json.load(open('$1'))['results']; print(' '.join(f'{x[\"mean\"]:.3f}' for x in r))"; }
echo
echo "| measurement | mean | goal |"
echo "|---|---|---|"
echo "| check, $(count schemas) tenant schemas on one PostgreSQL server | $(mean "$work/schemas.json") s | ≤ 2 s |"
echo "| check, $(count files) SQLite databases (--jobs 16) | $(mean "$work/files.json") s | ≤ 5 s |"
echo "| check, one PostgreSQL database | $(mean "$work/single.json") s | ≤ 0.1 s |"
