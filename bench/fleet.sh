#!/usr/bin/env bash
# `safemig deploy --env NAME` over an environment's tenants (a fleet deploy), side by side
# with the obvious alternative: a shell loop running one `safemig deploy --url … --dir …`
# per tenant. Against a throwaway PostgreSQL server started here (temp dir, free loopback
# port):
#
#  1. 1,000 up-to-date tenant schemas in one PostgreSQL database
#     (`tenants = { pattern = "tenant_*" }`): found current by one catalog query and batched
#     history reads, and skipped without a connection of their own;
#  2. one small migration (a table and an index) applied to those 1,000 schemas, --jobs 8
#     (the default); before each run every schema is reverted (table dropped, its
#     `_prisma_migrations` row deleted) by one generated psql script;
#  3. the same migration applied to 1,000 SQLite files (`tenants = { files = "sqlite/*.db" }`);
#     before each run the files are restored from a template copy.
#
# Each history first holds three migrations (written here), all applied; the fourth is the
# one measured. Mean of hyperfine runs; release build. Needs hyperfine, PostgreSQL's server
# binaries, psql and python3.
#
#   bench/fleet.sh                     # 1,000 tenants
#   TENANTS=20 bench/fleet.sh          # a quick trial
#   SAFEMIG_BIN=/path/to/safemig bench/fleet.sh   # that binary instead of building one
set -euo pipefail
. "$(dirname "$0")/lib.sh"
tenants=${TENANTS:-1000}
[ "$tenants" -ge 1 ] && [ "$tenants" -le 10000 ] || bench_fail "TENANTS must be 1..10000"
runs=${RUNS:-3}
bench_need hyperfine python3
bench_need_postgresql
bench_safemig

bench_work
# Up to --jobs tenant connections, a lock holder and the catalog connection, plus the
# benchmark's psql: the default max_connections (100) is plenty.
bench_start_pg
export PGOPTIONS="-c client_min_messages=warning"
pg_sql "CREATE DATABASE bench"
bench_header "$tenants tenants" "$runs runs"

# Per engine: `NAME-base` holds the first three migrations (the setup deploys them), `NAME`
# the same three plus the small one measured (`20240104000000_t4`).
last=20240104000000_t4
folder() {
    local base=$work/$1-base full=$work/$1
    bench_three_migrations "$base" "$2"
    cp -r "$base" "$full"
    mkdir -p "$full/$last"
    printf '%s\n' 'CREATE TABLE t4 (id INTEGER PRIMARY KEY, name VARCHAR(50));' \
        'CREATE INDEX t4_name_idx ON t4 (name);' >"$full/$last/migration.sql"
}
folder pg-migrations postgresql
folder sqlite-migrations sqlite

cat >"$work/safemig.toml" <<EOF
[environments.pg-base]
url = "env:PG_URL"
dir = "$work/pg-migrations-base"
tenants = { pattern = "tenant_*" }

[environments.pg]
url = "env:PG_URL"
dir = "$work/pg-migrations"
tenants = { pattern = "tenant_*" }

[environments.files-base]
dir = "$work/sqlite-migrations-base"
tenants = { files = "sqlite-template/*.db" }

[environments.files]
dir = "$work/sqlite-migrations"
tenants = { files = "sqlite/*.db" }
EOF
export PG_URL=$(pg_url bench)
cd "$work"

# `deploy --env ENV --json` once, outside hyperfine: it must exit 0 with every tenant
# counted as OUTCOME, or the timings would measure a failing (or idle) command.
expect() {
    local env=$1 outcome=$2 code=0
    "$safemig" deploy --env "$env" --json >"$work/report.json" 2>"$work/report.err" || code=$?
    python3 - "$work/report.json" "$outcome" "$tenants" "$code" "$env" <<'EOF' || { head -c 2000 "$work/report.json"; cat "$work/report.err"; exit 1; } >&2
import json, sys
path, outcome, tenants, code, env = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
report = json.load(open(path))
counts = report["counts"]
if code != 0 or counts.get(outcome) != tenants or sum(counts.values()) != tenants:
    print(f"deploy --env {env}: exit code {code}, counts {counts}; expected {tenants} {outcome}", file=sys.stderr)
    sys.exit(1)
print(f"deploy --env {env}: {counts[outcome]} {outcome} in {report['elapsed_ms']} ms, exit code 0")
EOF
}

# Setup (not measured). PostgreSQL: the schemas created empty (a pattern selects existing
# schemas only), then the first three migrations deployed by the fleet deploy itself.
python3 - "$tenants" <<'EOF' | pg_psql bench
import sys
print("BEGIN;")
for i in range(int(sys.argv[1])):
    print(f"CREATE SCHEMA tenant_{i:04d};")
print("COMMIT;")
EOF
start=$(date +%s)
expect pg-base applied
echo "setup: $tenants schemas at three migrations in $(($(date +%s) - start)) s"

# The script reverting the fourth migration in every schema, for --prepare.
python3 - "$tenants" "$last" <<'EOF' >"$work/revert.sql"
import sys
print("BEGIN;")
for i in range(int(sys.argv[1])):
    s = f"tenant_{i:04d}"
    print(f"DROP TABLE IF EXISTS {s}.t4;")
    print(f"DELETE FROM {s}._prisma_migrations WHERE migration_name = '{sys.argv[2]}';")
print("COMMIT;")
EOF
revert_pg="$(pg_psql_cmd) -d bench -f $work/revert.sql"

# SQLite: the template files at three migrations: one deployed, the others copies of it,
# then all checked by the fleet deploy (every one current).
bench_sqlite_tenants "$work/sqlite-template" "$work/sqlite-migrations-base" "$tenants"
expect files-base current
restore_sqlite="rm -rf $work/sqlite && cp -r $work/sqlite-template $work/sqlite"

# The baselines: one `safemig deploy` process per tenant, stopping at the first failure.
cat >"$work/loop-pg.sh" <<EOF
for i in \$(seq -f %04g 0 $((tenants - 1))); do
    "$safemig" deploy --url "$PG_URL?schema=tenant_\$i" --dir "$work/pg-migrations" >/dev/null 2>&1 || { echo "tenant_\$i failed" >&2; exit 1; }
done
EOF
cat >"$work/loop-sqlite.sh" <<EOF
for i in \$(seq -f %04g 0 $((tenants - 1))); do
    "$safemig" deploy --url "file:$work/sqlite/t\$i.db" --dir "$work/sqlite-migrations" >/dev/null 2>&1 || { echo "t\$i.db failed" >&2; exit 1; }
done
EOF

# The checks: after a revert, the fleet deploy applies the fourth migration to every
# tenant; after another, the loop does (the fleet deploy after it finding every tenant
# current confirms it).
$revert_pg >/dev/null
expect pg applied
$revert_pg >/dev/null
bash "$work/loop-pg.sh"
expect pg current
eval "$restore_sqlite"
expect files applied
eval "$restore_sqlite"
bash "$work/loop-sqlite.sh"
expect files current
echo

hyperfine --style basic --warmup 1 --runs "$runs" --export-json "$work/current.json" \
    -n "deploy --env pg: $tenants schemas, all current" "$safemig deploy --env pg" \
    -n "loop: $tenants x deploy --url ?schema=, all current" "bash $work/loop-pg.sh"
hyperfine --style basic --runs "$runs" --prepare "$revert_pg" --export-json "$work/pg.json" \
    -n "deploy --env pg: one migration to $tenants schemas" "$safemig deploy --env pg" \
    -n "loop: one migration, $tenants x deploy --url ?schema=" "bash $work/loop-pg.sh"
hyperfine --style basic --runs "$runs" --prepare "$restore_sqlite" --export-json "$work/sqlite.json" \
    -n "deploy --env files: one migration to $tenants SQLite files" "$safemig deploy --env files" \
    -n "loop: one migration, $tenants x deploy --url file:" "bash $work/loop-sqlite.sh"

# Mean ± standard deviation of result N of a hyperfine export.
mean() { python3 -c "import json; r = json.load(open('$1'))['results'][$2]; print(f'{r[\"mean\"]:.2f} s ± {r[\"stddev\"] or 0:.2f}')"; }
echo
echo "| scenario | safemig fleet | loop of one deploy per tenant | goal |"
echo "|---|---|---|---|"
echo "| $tenants up-to-date PostgreSQL schemas, checked and skipped | $(mean current.json 0) | $(mean current.json 1) | ≤ 3 s |"
echo "| one migration applied to $tenants PostgreSQL schemas (--jobs 8) | $(mean pg.json 0) | $(mean pg.json 1) | ≤ 60 s |"
echo "| one migration applied to $tenants SQLite files (--jobs 8) | $(mean sqlite.json 0) | $(mean sqlite.json 1) | ≤ 20 s |"
