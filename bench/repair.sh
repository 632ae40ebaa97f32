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
cd "$(dirname "$0")/.."
corpus=${SAFEMIG_CORPUS:-$PWD/../shared/corpus}
pg_history=$corpus/trigger-dev-postgresql/migrations
my_history=$corpus/evolution-api-mysql/migrations
[ -d "$pg_history" ] && [ -d "$my_history" ] || {
    echo "bench/repair.sh needs the corpus at $corpus (SAFEMIG_CORPUS)" >&2
    exit 1
}
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
for tool in hyperfine psql mariadb mariadb-install-db python3 "$pgbin/initdb"; do
    command -v "$tool" >/dev/null || { echo "bench/repair.sh needs $tool" >&2; exit 1; }
done
mariadbd=$(command -v mariadbd || echo /usr/sbin/mariadbd)
cargo build --release --quiet
safemig=$PWD/target/release/safemig

work=$(mktemp -d)
chmod 755 "$work"
cleanup() {
    [ -f "$work/pg/data/postmaster.pid" ] && run_as "$pgbin/pg_ctl" -D "$work/pg/data" -m immediate stop >/dev/null 2>&1 || true
    [ -f "$work/my/pid" ] && kill "$(cat "$work/my/pid")" 2>/dev/null || true
    sleep 1
    rm -rf "$work"
}
trap cleanup EXIT

# PostgreSQL refuses to run as root: as the `postgres` user when we are root.
run_as() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

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

# PostgreSQL.
pg_port=$(free_port)
mkdir -p "$work/pg"
[ "$(id -u)" = 0 ] && chown postgres "$work/pg"
echo pw >"$work/pw" && chmod 644 "$work/pw"
run_as "$pgbin/initdb" -D "$work/pg/data" -U postgres --auth=scram-sha-256 -E UTF8 --locale=C --no-sync --pwfile="$work/pw" >/dev/null
run_as "$pgbin/pg_ctl" -D "$work/pg/data" -l "$work/pg/log" -w \
    -o "-p $pg_port -k $work/pg -c listen_addresses=127.0.0.1 -c fsync=off -c max_locks_per_transaction=1024" start >/dev/null
export PGPASSWORD=pw
pg_url="postgresql://postgres:pw@127.0.0.1:$pg_port/trigger"
psql -q -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres -c "CREATE DATABASE trigger" >/dev/null
pg_apply="psql -q -h 127.0.0.1 -p $pg_port -U postgres -d trigger -v ON_ERROR_STOP=1"

# MariaDB, as this user (`--user` lets root run it).
my_port=$(free_port)
mkdir -p "$work/my"
me=$(id -un)
mariadb-install-db --no-defaults --datadir="$work/my/data" --user="$me" \
    --auth-root-authentication-method=normal --skip-test-db --skip-name-resolve >/dev/null
"$mariadbd" --no-defaults --datadir="$work/my/data" --socket="$work/my/sock" --user="$me" \
    --pid-file="$work/my/pid" --port="$my_port" --bind-address=127.0.0.1 --tmpdir="$work/my" \
    --skip-name-resolve --innodb-flush-log-at-trx-commit=2 --skip-log-bin \
    --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci >"$work/my/log" 2>&1 &
for _ in $(seq 150); do mariadb --socket="$work/my/sock" -uroot -e "SELECT 1" >/dev/null 2>&1 && break; sleep 0.2; done
mariadb --socket="$work/my/sock" -uroot -e "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'; ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY 'pw'; GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION; CREATE DATABASE evolution"
my_url="mysql://root:pw@127.0.0.1:$my_port/evolution"
my_apply="mariadb -h 127.0.0.1 -P $my_port -uroot -ppw evolution"

echo "PostgreSQL $("$pgbin/postgres" --version | awk '{print $3}'), MariaDB $("$mariadbd" --version | awk '{print $3}'), safemig $($safemig --version | head -1 | awk '{print $2}'), $(nproc) cores, $(date -u +%Y-%m-%d)"
export SAFEMIG_CACHE_DIR=$work/cache

for engine in pg my; do
    if [ $engine = pg ]; then history=$pg_history apply=$pg_apply uuid="gen_random_uuid()::text" u=$pg_url; else history=$my_history apply=$my_apply uuid="UUID()" u=$my_url; fi
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

mean() { python3 -c "import json; r = json.load(open('$1'))['results']; print(' '.join(f'{x[\"mean\"]:.3f}' for x in r))"; }
read -r pg_cold pg_drift < <(mean "$work/pg-cold.json")
read -r pg_warm pg_snap < <(mean "$work/pg-warm.json")
read -r my_cold my_drift < <(mean "$work/my-cold.json")
read -r my_warm my_snap < <(mean "$work/my-warm.json")
echo
echo "| measurement | repair | floor | goal |"
echo "|---|---|---|---|"
echo "| PostgreSQL, trigger.dev's last migration failed, cold (819 replayed + its states) | ${pg_cold} s | drift --no-cache ${pg_drift} s | ≤ 12 s |"
echo "| PostgreSQL, the same, warm (states cached) | ${pg_warm} s | snapshot ${pg_snap} s | ≤ 2 s |"
echo "| MariaDB, evolution-api's last migration failed half-way, cold | ${my_cold} s | drift --no-cache ${my_drift} s | |"
echo "| MariaDB, the same, warm | ${my_warm} s | snapshot ${my_snap} s | |"
