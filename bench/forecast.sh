#!/usr/bin/env bash
# `safemig forecast` against what PostgreSQL and MariaDB really do, on throwaway servers
# started here (temp dir, free loopback ports):
#
#  1. speed: the forecast of trigger.dev's 820 migrations, all pending on an empty
#     database (goal: at most 5 s cold); and beside squawk (PyPI squawk-cli, the static
#     PostgreSQL linter): for each rule squawk reports on those migrations, how the
#     forecast classified the statements it flagged;
#  2. accuracy: a table of ROWS rows (default 10^5, 10^6 and 10^7) and the statement
#     kinds the corpora use; each statement is run in a
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
#   bench/forecast.sh [--record]            # about 25 minutes on 2 cores
#   ROWS="100000 1000000" bench/forecast.sh  # about 3 minutes
#
# --record writes the tables, with the date and versions, between the
# `<!-- forecast-bench -->` markers of docs/commands/forecast.md, and the accuracy line
# between the `<!-- forecast-accuracy -->` markers of the README.
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
# The forecasts measure the servers' throughputs afresh, into a cache of their own.
export SAFEMIG_CACHE_DIR=$work/cache
bench_start_pg -c max_locks_per_transaction=1024 -c maintenance_work_mem=256MB
bench_start_mariadb
bench_header

pg_sql "CREATE DATABASE empty"
hyperfine --style basic --warmup 1 --runs 5 --export-json "$work/speed.json" \
    -n "forecast, trigger.dev, 820 pending" \
    "$safemig forecast --url '$(pg_url empty)' --dir $history --budget 3600 --json >/dev/null"
read -r speed < <(bench_means "$work/speed.json")

python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet 'psycopg[binary]' pymysql squawk-cli

"$safemig" forecast --url "$(pg_url empty)" --dir "$history" --budget 3600 --json >"$work/trigger.json"
"$work/venv/bin/squawk" --reporter json "$history"/*/migration.sql >"$work/squawk.json" || true
squawk_version=$("$work/venv/bin/squawk" --version)
"$work/venv/bin/python" - "$work/trigger.json" "$work/squawk.json" >"$work/squawk.md" <<'EOF'
import collections, json, os, sys
forecast = json.load(open(sys.argv[1]))
findings = json.load(open(sys.argv[2]))
# The statement of each finding: the last one of its migration starting at or before it.
by_migration = {m["name"]: m["statements"] for m in forecast["migrations"]}
table = collections.defaultdict(collections.Counter)
for f in findings:
    name = os.path.basename(os.path.dirname(f["file"]))
    # squawk counts lines from 0; findings about a whole file (timeouts) are on line 0.
    statements = [s for s in by_migration.get(name, []) if s["line"] <= f["line"] + 1]
    key = f"{statements[-1]['effect']} ({statements[-1]['lock']['blocks'].replace('_', ' ')})" if statements else "the whole file"
    table[f["rule_name"]][key] += 1
for rule, counts in sorted(table.items(), key=lambda r: -sum(r[1].values())):
    shown = ", ".join(f"{k}: {v}" for k, v in counts.most_common())
    print(f"| `{rule}` | {sum(counts.values())} | {shown} |")
EOF

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
for rows in ${ROWS:-100000 1000000 10000000}; do
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
    effect_matches = observed == st["effect"] or (observed == "-" and st["effect"] in ("metadata", "scan", "data"))
    lock = modes.get("t", "none").replace("Lock", "")
    words = {"AccessExclusive": "ACCESS EXCLUSIVE", "ShareRowExclusive": "SHARE ROW EXCLUSIVE",
             "ShareUpdateExclusive": "SHARE UPDATE EXCLUSIVE", "Share": "SHARE", "RowExclusive": "ROW EXCLUSIVE",
             "Exclusive": "EXCLUSIVE", "AccessShare": "ACCESS SHARE", "none": "none"}
    lock = words.get(lock, lock)
    mid = (st["estimate_ms"]["low"] + st["estimate_ms"]["high"]) / 2 / 1000
    within = "" if took < 1 else ("yes" if mid / 2 <= took <= mid * 2 else "NO")
    matches = "yes" if effect_matches and lock == st["lock"]["mode"] else "NO"
    print(f"| PostgreSQL {rows:,} | `{text[:60]}` | {st['effect']} | {observed} | {st['lock']['mode']} | {lock} "
          f"| {matches} | {mid:.2f} s | {took:.2f} s | {within} |")
EOF
done

# squawk on the same statements, and which of its findings matter at each size: those
# the forecast puts at a second or more (the statement holds its lock that long).
sizes=(${ROWS:-100000 1000000 10000000})
"$work/venv/bin/squawk" --reporter json "$work/rows_${sizes[0]}/migrations/20240102000000_change/migration.sql" \
    >"$work/squawk-sized.json" || true
"$work/venv/bin/python" - "$work/squawk-sized.json" "${sizes[@]/#/$work/rows_}" >"$work/squawk-sized.md" <<'EOF'
import json, sys
findings = json.load(open(sys.argv[1]))
forecasts = {}
for base in sys.argv[2:]:
    rows = int(base.rsplit("_", 1)[1])
    forecasts[rows] = json.load(open(base + ".json"))["migrations"][0]["statements"]
sizes = sorted(forecasts)
print("| squawk rule | statement | forecast effect | " + " | ".join(f"{r:,} rows" for r in sizes) + " |")
print("|---|---|---|" + "---|" * len(sizes))
matter = {r: 0 for r in sizes}
for f in findings:
    # squawk counts lines from 0; each statement is one line. Findings about the whole
    # file (line 0 with no statement of its own) name the first.
    if not all(any(s["line"] == f["line"] + 1 for s in forecasts[r]) for r in sizes):
        continue
    cells = []
    for r in sizes:
        st = next(s for s in forecasts[r] if s["line"] == f["line"] + 1)
        mid = (st["estimate_ms"]["low"] + st["estimate_ms"]["high"]) / 2000
        matters = mid >= 1
        matter[r] += matters
        cells.append(f"{mid:.2f} s{' **matters**' if matters else ''}")
    statement = open(f["file"]).read().splitlines()[f["line"]][:50]
    print(f"| `{f['rule_name']}` | `{statement}` | {st['effect']} | " + " | ".join(cells) + " |")
print()
print(f"Of squawk's {len(findings)} findings on these statements, "
      + ", ".join(f"{matter[r]} matter at {r:,} rows" for r in sizes) + ".")
EOF

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
for rows in ${ROWS:-100000 1000000 10000000}; do
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
    # What each algorithm is in the forecast's words (a primary key rebuilt in place is
    # a rewrite that takes no lock).
    expected = {"instant": ("metadata",), "inplace": ("index_build", "rewrite"), "copy": ("rewrite",), "dml": ("data",)}
    matches = "yes" if st["effect"] in expected[observed] and lock == st["lock"]["mode"] else "NO"
    print(f"| MariaDB {rows:,} | `{text[:60]}` | {st['effect']} | {observed} | {st['lock']['mode']} | {lock} "
          f"| {matches} | {mid:.2f} s | {took:.2f} s | {within} |")
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
    echo "$squawk_version on the same 820 migrations: per rule, its findings and the forecast's"
    echo "effect (and what the lock blocks) for the statements flagged:"
    echo
    echo "| squawk rule | findings | forecast of the statements flagged |"
    echo "|---|---|---|"
    cat "$work/squawk.md"
    echo
    echo "The same rules on the statements measured below, on PostgreSQL: the estimate's midpoint"
    echo "at each table size, and whether the finding matters there (a second or more):"
    echo
    cat "$work/squawk-sized.md"
    echo
    python3 - "$report" >"$work/accuracy.md" <<'EOF'
import sys
rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in open(sys.argv[1]) if line.startswith("|")]
matches = sum(r[6] == "yes" for r in rows)
timed = [r for r in rows if r[9]]
within = sum(r[9] == "yes" for r in timed)
print(f"Effect and lock as the server did them: {matches} of {len(rows)} statements. "
      f"Estimate within 2x of the measured time: {within} of {len(timed)} statements of 1 s or more "
      f"({100 * within / max(len(timed), 1):.0f} %; goal: 90 %).")
EOF
    cat "$work/accuracy.md"
    echo
    echo "| server, rows | statement | forecast effect | observed (PostgreSQL: rewrite / index; MariaDB: the algorithm accepted) | forecast lock | lock held (MariaDB: the LOCK= accepted) | match | estimate (mid) | measured | within 2x (≥ 1 s) |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
    cat "$report"
} >"$results"
echo
cat "$results"
if $record; then
    python3 - "$results" "$work/accuracy.md" "$(date -u +%Y-%m-%d)" <<'EOF'
import re, sys
results, accuracy, date = open(sys.argv[1]).read().strip(), open(sys.argv[2]).read(), sys.argv[3]

def replace(path, marker, text):
    old = open(path).read()
    new, n = re.subn(f"<!-- {marker} -->.*?<!-- /{marker} -->",
                     lambda _: f"<!-- {marker} -->{text}<!-- /{marker} -->", old, flags=re.S)
    assert n == 1, f"no {marker} markers in {path}"
    open(path, "w").write(new)

replace("docs/commands/forecast.md", "forecast-bench", f"\n{results}\n")
# "Effect and lock as the server did them: 66 of 66 statements. Estimate within 2x … (95 %; goal: 90 %)."
m = re.search(r"(\d+) of (\d+) statements\. Estimate within 2x of the measured time: (\d+) of (\d+) statements of 1 s or more", accuracy)
replace("README.md", "forecast-accuracy",
        f"effect and lock right for {m[1]} of {m[2]} statements, estimate within 2x for {m[3]} of {m[4]} "
        f"that took a second or more ({date}, [bench](docs/commands/forecast.md#against-what-the-server-does))")
EOF
    echo "bench/forecast.sh: recorded in docs/commands/forecast.md and README.md" >&2
fi
