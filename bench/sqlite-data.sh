#!/usr/bin/env bash
# Data migrations on SQLite: a migration of plain INSERT lines, 1 to 50 MB, applied by
# `safemig deploy` and, as the floor, by the `sqlite3` client reading the same file inside
# one transaction (what deploy does: the script and its history row commit together; the
# client in autocommit mode would pay one journal sync per INSERT), side by side. Reports
# the mean time of each (hyperfine) and the peak resident memory of each (/usr/bin/time),
# with the ratio to the file size.
#
#   bench/sqlite-data.sh            # sizes 1 2 4 8 16 50 (MB)
#   bench/sqlite-data.sh 4 8        # chosen sizes
#
# Needs hyperfine, sqlite3, GNU time and python3 (apt install hyperfine sqlite3 time python3).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bench_need hyperfine sqlite3 python3 /usr/bin/time
bench_safemig
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1 2 4 8 16 50)

bench_work

# One migration: a table, then INSERT lines of about 100 bytes until the file has the size.
make_migration() {
    local mb=$1 dir=$work/m$1
    mkdir -p "$dir/20240101000000_data"
    echo 'provider = "sqlite"' >"$dir/migration_lock.toml"
    python3 - "$mb" >"$dir/20240101000000_data/migration.sql" <<'EOF'
import sys
target = int(sys.argv[1]) * 1024 * 1024
out = sys.stdout
out.write('CREATE TABLE "Event" ("id" INTEGER PRIMARY KEY, "kind" TEXT NOT NULL, "payload" TEXT NOT NULL);\n')
written, i = 0, 0
while written < target:
    line = f"INSERT INTO \"Event\" (\"id\", \"kind\", \"payload\") VALUES ({i}, 'page_view', '{{\"path\": \"/articles/{i % 997}\", \"ms\": {i % 313}}}');\n"
    out.write(line)
    written += len(line)
    i += 1
EOF
    echo "$dir"
}

peak_kb() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; }

printf '%-6s %-12s %-12s %-7s %-16s %-16s\n' "MB" "safemig s" "sqlite3 s" "ratio" "safemig peak" "sqlite3 peak"
for mb in "${sizes[@]}"; do
    dir=$(make_migration "$mb")
    file=$dir/20240101000000_data/migration.sql
    bytes=$(stat -c %s "$file")
    db=$work/bench.db
    json=$work/h$mb.json
    hyperfine --style none --warmup 1 --runs 5 --export-json "$json" \
        --prepare "rm -f $db $db-journal" \
        -n safemig "$safemig --url file:$db --dir $dir deploy" \
        -n sqlite3 "sh -c '{ echo BEGIN\;; cat $file; echo COMMIT\;; } | sqlite3 $db'" >/dev/null
    read -r t_safemig t_sqlite < <(bench_means "$json")
    rm -f "$db"
    m_safemig=$(peak_kb "$safemig" --url "file:$db" --dir "$dir" deploy)
    rm -f "$db"
    m_sqlite=$(peak_kb sh -c "{ echo 'BEGIN;'; cat $file; echo 'COMMIT;'; } | sqlite3 $db")
    rm -f "$db"
    python3 -c "
b = $bytes; ts, tq = $t_safemig, $t_sqlite; ms, mq = $m_safemig * 1024, $m_sqlite * 1024
print(f'{$mb:<6} {ts:<12.3f} {tq:<12.3f} {ts / tq:<7.2f} {ms / 2**20:6.1f} MiB {ms / b:4.2f}x  {mq / 2**20:6.1f} MiB {mq / b:4.2f}x')"
    rm -rf "$dir"
done
