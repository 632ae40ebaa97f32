#!/usr/bin/env bash
# `safemig forecast` against what PostgreSQL and MariaDB really do, on throwaway servers
# started here (temp dir, free loopback ports):
#
#  1. speed: the forecast of trigger.dev's 820 migrations, all pending on an empty
#     database (goal: at most 5 s cold);
#  2. accuracy: a table of ROWS rows (default 100000 and 1000000; add 10000000 for the
#     issue's full run) and the statement kinds the corpora use; each statement is run in a
#     transaction that is rolled back, timed, with the locks it holds read from pg_locks and
#     the table's relfilenode compared (a new one: the table was rewritten). Per statement:
#     the forecast's effect and lock mode against what the server did, and the estimate's
#     midpoint against the measured time ("within 2x" counts statements of 1 s or more).
#     MariaDB's DDL cannot be rolled back: each statement runs on a fresh copy of the
#     table, first with ALGORITHM=INSTANT, then INPLACE with LOCK=NONE, then as written
#     (COPY), and what the server accepted is what it did.
#
# Release build unless SAFEMIG_BIN is set. Needs hyperfine, PostgreSQL's server binaries,
# psql and python3 (psycopg is installed from PyPI into a venv in the temp dir).
#
#   bench/forecast.sh [--record]            # ROWS="100000 1000000"
#   ROWS="100000 1000000 10000000" bench/forecast.sh
#
# --record writes the tables, with the date and versions, between the
# `<!-- forecast-bench -->` markers of docs/commands/forecast.md.
set -euo pipefail
record=false
[ "${1:-}" = --record ] && record=true
. "$(dirname "$0")/lib.sh"
bench_corpus trigger-dev-postgresql/migrations
history=$corpus/trigger-dev-postgresql/migrations
bench_need hyperfine python3
bench_need_postgresql
bench_need_mariadb
bench_safemig

bench_work
bench_start_pg -c max_locks_per_transaction=1024 -c maintenance_work_mem=256MB
bench_start_mariadb
bench_header

pg_sql "CREATE DATABASE empty"
hyperfine --style basic --warmup 1 --runs 5 --export-json "$work/speed.json" \
    -n "forecast, trigger.dev, 820 pending" \
    "$safemig forecast --url '$(pg_url empty)' --dir $history --budget 3600 --json >/dev/null"
read -r speed < <(bench_means "$work/speed.json")

python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet 'psycopg[binary]' pymysql

# The statements measured, one per line, on `t` (id, a, b, c) and `p` (id).
statements=(
    'ALTER TABLE "t" ADD COLUMN "d" INTEGER'
    'ALTER TABLE "t" ADD COLUMN "e" INTEGER NOT NULL DEFAULT 0'
    'ALTER TABLE "t" ADD COLUMN "f" TEXT NOT NULL DEFAULT gen_random_uuid()::text'
    'ALTER TABLE "t" DROP COLUMN "c"'
    'ALTER TABLE "t" ALTER COLUMN "a" SET DATA TYPE BIGINT'
    'ALTER TABLE "t" ALTER COLUMN "b" SET NOT NULL'
    'ALTER TABLE "t" ADD CONSTRAINT "t_a_fkey" FOREIGN KEY ("a") REFERENCES "p"("id")'
    'ALTER TABLE "t" ADD CONSTRAINT "t_c_check" CHECK ("c" > 0)'
    'CREATE UNIQUE INDEX "t_b_key" ON "t"("b")'
    'CREATE INDEX "t_a_idx" ON "t"("a")'
    'ALTER TABLE "t" RENAME COLUMN "c" TO "c2"'
    'UPDATE "t" SET "c" = "c" + 1'
)

report=$work/report.md
for rows in ${ROWS:-100000 1000000}; do
    db=rows_$rows
    dir=$work/$db/migrations
    mkdir -p "$dir/20240101000000_init"
    cat >"$dir/20240101000000_init/migration.sql" <<'EOF'
CREATE TABLE "p" ("id" INTEGER NOT NULL, CONSTRAINT "p_pkey" PRIMARY KEY ("id"));
CREATE TABLE "t" ("id" BIGINT NOT NULL, "a" INTEGER NOT NULL, "b" TEXT, "c" INTEGER, CONSTRAINT "t_pkey" PRIMARY KEY ("id"));
EOF
    pg_sql "CREATE DATABASE $db"
    "$safemig" deploy --url "$(pg_url "$db")" --dir "$dir" >/dev/null
    pg_psql "$db" -c "INSERT INTO p SELECT g FROM generate_series(1, 1000) g;
        INSERT INTO t SELECT g, g % 1000 + 1, md5(g::text), g FROM generate_series(1, $rows) g;" \
        -c "VACUUM ANALYZE p" -c "VACUUM ANALYZE t"
    mkdir -p "$dir/20240102000000_change"
    printf '%s;\n' "${statements[@]}" >"$dir/20240102000000_change/migration.sql"
    "$safemig" forecast --url "$(pg_url "$db")" --dir "$dir" --budget 3600 --json >"$work/$db.json" || true
    "$work/venv/bin/python" - "$(pg_url "$db")" "$work/$db.json" "$rows" >>"$report" <<'EOF'
import json, sys, time
import psycopg

url, forecast_file, rows = sys.argv[1], sys.argv[2], int(sys.argv[3])
forecast = json.load(open(forecast_file))
statements = forecast["migrations"][0]["statements"]
sql = open(forecast_file.replace(".json", "") + "/migrations/20240102000000_change/migration.sql").read().splitlines()
conn = psycopg.connect(url, autocommit=False)
for st, text in zip(statements, sql):
    text = text.rstrip(";")
    cur = conn.cursor()
    cur.execute("SELECT relfilenode FROM pg_class WHERE relname = 't'")
    before = cur.fetchone()[0]
    cur.execute("SELECT count(*) FROM pg_class WHERE relkind = 'i'")
    indexes = cur.fetchone()[0]
    start = time.monotonic()
    cur.execute(text)
    took = time.monotonic() - start
    cur.execute("SELECT c.relname, l.mode FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                "WHERE l.pid = pg_backend_pid() AND c.relname IN ('t', 'p') AND l.granted")
    modes = {}
    strength = ["AccessShareLock", "RowShareLock", "RowExclusiveLock", "ShareUpdateExclusiveLock",
                "ShareLock", "ShareRowExclusiveLock", "ExclusiveLock", "AccessExclusiveLock"]
    for rel, mode in cur.fetchall():
        if rel not in modes or strength.index(mode) > strength.index(modes[rel]):
            modes[rel] = mode
    cur.execute("SELECT relfilenode FROM pg_class WHERE relname = 't'")
    after = cur.fetchone()[0]
    cur.execute("SELECT count(*) FROM pg_class WHERE relkind = 'i'")
    new_index = cur.fetchone()[0] > indexes
    conn.rollback()
    # What the server did: a new relfilenode is a rewrite, a new index an index build;
    # otherwise a scan, data or the catalog only, which the duration tells apart across sizes.
    observed = "rewrite" if after != before else "index_build" if new_index else "-"
    lock = modes.get("t", "none").replace("Lock", "")
    words = {"AccessExclusive": "ACCESS EXCLUSIVE", "ShareRowExclusive": "SHARE ROW EXCLUSIVE",
             "ShareUpdateExclusive": "SHARE UPDATE EXCLUSIVE", "Share": "SHARE", "RowExclusive": "ROW EXCLUSIVE",
             "Exclusive": "EXCLUSIVE", "AccessShare": "ACCESS SHARE", "none": "none"}
    lock = words.get(lock, lock)
    mid = (st["estimate_ms"]["low"] + st["estimate_ms"]["high"]) / 2 / 1000
    within = "" if took < 1 else ("yes" if mid / 2 <= took <= mid * 2 else "NO")
    print(f"| PostgreSQL {rows:,} | `{text[:60]}` | {st['effect']} | {observed} | {st['lock']['mode']} | {lock} "
          f"| {mid:.2f} s | {took:.2f} s | {within} |")
EOF
done

# MariaDB: the same kinds in its syntax, on `t` (id, a, b, c) and `p` (id).
my_statements=(
    'ALTER TABLE `t` ADD COLUMN `d` INTEGER NULL'
    'ALTER TABLE `t` ADD COLUMN `e` INTEGER NOT NULL DEFAULT 0'
    'ALTER TABLE `t` DROP COLUMN `c`'
    'ALTER TABLE `t` MODIFY `a` BIGINT NOT NULL'
    'ALTER TABLE `t` ADD CONSTRAINT `t_a_fkey` FOREIGN KEY (`a`) REFERENCES `p`(`id`)'
    'ALTER TABLE `t` ADD CONSTRAINT `t_c_check` CHECK (`c` > 0)'
    'CREATE UNIQUE INDEX `t_b_key` ON `t`(`b`)'
    'CREATE INDEX `t_a_idx` ON `t`(`a`)'
    'ALTER TABLE `t` RENAME COLUMN `c` TO `c2`'
    'UPDATE `t` SET `c` = `c` + 1'
)
for rows in ${ROWS:-100000 1000000}; do
    db=my_rows_$rows
    dir=$work/$db/migrations
    mkdir -p "$dir/20240101000000_init"
    cat >"$dir/20240101000000_init/migration.sql" <<'EOF'
CREATE TABLE `p` (`id` INTEGER NOT NULL, PRIMARY KEY (`id`)) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE TABLE `t` (`id` BIGINT NOT NULL, `a` INTEGER NOT NULL, `b` VARCHAR(64) NOT NULL, `c` INTEGER NULL, PRIMARY KEY (`id`)) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
EOF
    my_sql "CREATE DATABASE $db"
    "$safemig" deploy --url "$(my_url "$db")" --dir "$dir" >/dev/null
    my_sql "USE $db; INSERT INTO p SELECT seq FROM seq_1_to_1000;
        INSERT INTO t SELECT seq, seq % 1000 + 1, md5(seq), seq FROM seq_1_to_$rows;
        CREATE TABLE t_base LIKE t; INSERT INTO t_base SELECT * FROM t; ANALYZE TABLE t"
    mkdir -p "$dir/20240102000000_change"
    printf '%s;\n' "${my_statements[@]}" >"$dir/20240102000000_change/migration.sql"
    "$safemig" forecast --url "$(my_url "$db")" --dir "$dir" --budget 3600 --json >"$work/$db.json" || true
    "$work/venv/bin/python" - "$my_port" "$db" "$work/$db.json" "$rows" >>"$report" <<'EOF'
import json, sys, time
import pymysql

port, db, forecast_file, rows = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
forecast = json.load(open(forecast_file))
statements = forecast["migrations"][0]["statements"]
sql = open(forecast_file.replace(".json", "") + "/migrations/20240102000000_change/migration.sql").read().splitlines()
conn = pymysql.connect(host="127.0.0.1", port=port, user="root", password="pw", database=db, autocommit=True)
cur = conn.cursor()

def fresh():
    cur.execute("SET foreign_key_checks = 0")
    cur.execute("DROP TABLE IF EXISTS t")
    cur.execute("CREATE TABLE t LIKE t_base")
    cur.execute("INSERT INTO t SELECT * FROM t_base")
    cur.execute("SET foreign_key_checks = 1")

def attempt(text, algorithm):
    sep = ", " if text.upper().startswith("ALTER") else " "
    start = time.monotonic()
    cur.execute(text + (sep + algorithm if algorithm else ""))
    return time.monotonic() - start

for st, text in zip(statements, sql):
    text = text.rstrip(";")
    fresh()
    if text.upper().startswith("UPDATE"):
        took, observed, lock = attempt(text, None), "dml", "row locks"
    else:
        for algorithm, observed, lock in [("ALGORITHM=INSTANT", "instant", "NONE"),
                                          ("ALGORITHM=INPLACE, LOCK=NONE" if text.upper().startswith("ALTER") else "ALGORITHM=INPLACE LOCK=NONE", "inplace", "NONE"),
                                          (None, "copy", "SHARED")]:
            try:
                took = attempt(text, algorithm)
                break
            except pymysql.err.MySQLError:
                continue
    mid = (st["estimate_ms"]["low"] + st["estimate_ms"]["high"]) / 2 / 1000
    within = "" if took < 1 else ("yes" if mid / 2 <= took <= mid * 2 else "NO")
    print(f"| MariaDB {rows:,} | `{text[:60]}` | {st['effect']} | {observed} | {st['lock']['mode']} | {lock} "
          f"| {mid:.2f} s | {took:.2f} s | {within} |")
EOF
done

results=$work/results.md
{
    bench_header
    echo
    echo "| measurement | mean | goal |"
    echo "|---|---|---|"
    echo "| forecast of trigger.dev's 820 migrations, all pending, empty database | ${speed} s | ≤ 5 s |"
    echo
    echo "| server, rows | statement | forecast effect | observed (PostgreSQL: rewrite / index; MariaDB: the algorithm accepted) | forecast lock | lock held (MariaDB: the LOCK= accepted) | estimate (mid) | measured | within 2x (≥ 1 s) |"
    echo "|---|---|---|---|---|---|---|---|---|"
    cat "$report"
} >"$results"
echo
cat "$results"
if $record; then
    python3 - "$results" docs/commands/forecast.md <<'EOF'
import re, sys
results, doc = open(sys.argv[1]).read().strip(), sys.argv[2]
text = open(doc).read()
new, n = re.subn(r"<!-- forecast-bench -->.*?<!-- /forecast-bench -->",
                 lambda _: f"<!-- forecast-bench -->\n{results}\n<!-- /forecast-bench -->", text, flags=re.S)
assert n == 1, "no forecast-bench markers in " + doc
open(doc, "w").write(new)
EOF
    echo "bench/forecast.sh: recorded in docs/commands/forecast.md" >&2
fi
