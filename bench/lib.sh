# shellcheck shell=bash
# What every bench script shares, sourced first thing (after `set -euo pipefail`):
#
#   . "$(dirname "$0")/lib.sh"
#
# Sourcing it moves to the repository's root. Then, as a script needs them:
#   bench_need TOOL...            exit with an install hint unless each tool is there
#   bench_need_postgresql         the same for psql and PostgreSQL's server binaries
#   bench_need_mariadb            the same for MariaDB's client and server
#   bench_safemig [dist]          `safemig`: SAFEMIG_BIN, or the release (or static) build
#   bench_work                    `work`: a temp dir, removed (servers stopped) on exit
#   bench_start_pg [-c NAME=V]... a private PostgreSQL server on 127.0.0.1: pg_url, pg_sql, pg_psql
#   bench_start_mariadb           a private MariaDB server on 127.0.0.1: my_url, my_sql, my_client
#   bench_header [FIELD]...       the versions, cores and date line heading a run's figures
#
# Servers run from the temp dir on a free loopback port with durability off (fsync=off;
# innodb_flush_log_at_trx_commit=2): a benchmark measures safemig, not the disk.
# Each bench script prints its figures; none writes them anywhere: recording them in
# CONTRIBUTING.md, with their date, is done by hand.

bench_name=bench/$(basename "$0")
# SAFEMIG_BIN is read relative to where the script was started, before the cd below.
if [ -n "${SAFEMIG_BIN:-}" ]; then SAFEMIG_BIN=$(realpath "$SAFEMIG_BIN"); fi
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1

# `bench_fail MESSAGE`: MESSAGE on stderr, prefixed by the script's name, and exit 1.
bench_fail() {
    echo "$bench_name: $*" >&2
    exit 1
}

# The Debian package that provides a tool, for the install hint.
bench_package() {
    case $(basename "$1") in
        initdb | pg_ctl | postgres) echo postgresql ;;
        psql) echo postgresql-client ;;
        mariadb | mariadbd | mariadb-install-db) echo mariadb-server ;;
        time) echo time ;;
        *) basename "$1" ;;
    esac
}

bench_need() {
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null || bench_fail "needs $tool (apt install $(bench_package "$tool"))"
    done
}

# `bench_need_postgresql`: psql and the PostgreSQL server binaries (sets pgbin): those of
# the `initdb` on PATH, else of the newest version under /usr/lib/postgresql (Debian puts
# only the clients on PATH).
bench_need_postgresql() {
    local initdb
    initdb=$(command -v initdb) && initdb=$(realpath "$initdb") ||
        initdb=$(find /usr/lib/postgresql -path '*/bin/initdb' 2>/dev/null | sort -V | tail -1)
    bench_need psql "${initdb:-initdb}"
    pgbin=$(dirname "$initdb")
}

# `bench_need_mariadb`: the MariaDB client and server binaries (sets mariadbd).
bench_need_mariadb() {
    mariadbd=$(command -v mariadbd || echo /usr/sbin/mariadbd)
    bench_need mariadb mariadb-install-db "$mariadbd"
}

# `bench_safemig [dist]`: sets `safemig`: SAFEMIG_BIN when given, else built here: the
# release build, or with `dist` the static binary that ships (cargo profile dist, musl,
# this CPU; needs what scripts/dist-setup installs).
bench_safemig() {
    if [ -n "${SAFEMIG_BIN:-}" ]; then
        safemig=$SAFEMIG_BIN
    elif [ "${1:-}" = dist ]; then
        local target
        target=$(uname -m)-unknown-linux-musl
        cargo build --locked --quiet --profile dist --target "$target"
        safemig=$PWD/target/$target/dist/safemig
    else
        cargo build --locked --release --quiet
        safemig=$PWD/target/release/safemig
    fi
    [ -x "$safemig" ] || bench_fail "$safemig is not an executable"
}

bench_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# `bench_poll TRIES WHAT COMMAND...`: runs COMMAND every 0.1 s until it succeeds; after
# TRIES failures, fails naming WHAT.
bench_poll() {
    local tries=$1 what=$2 _
    shift 2
    for _ in $(seq "$tries"); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    bench_fail "$what did not come up"
}

# Sets `work`, a temp dir removed on exit, after the servers and processes started by this
# script (bench_pids) are stopped.
bench_pids=()
bench_work() {
    work=$(mktemp -d)
    trap bench_cleanup EXIT
}
bench_cleanup() {
    local pid
    if [ -f "$work/pg/data/postmaster.pid" ]; then
        bench_as_postgres "$pgbin/pg_ctl" -D "$work/pg/data" -m immediate stop >/dev/null 2>&1 || true
    fi
    for pid in "${bench_pids[@]}"; do
        kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
    done
    rm -rf "$work"
}

# PostgreSQL refuses to run as root: as the `postgres` user when we are root.
bench_as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

# `bench_start_pg [-c NAME=VALUE]...`: a PostgreSQL server in $work/pg (after
# bench_need_postgresql and bench_work; settings added to the defaults), user postgres,
# password pw (exported as PGPASSWORD). Sets pg_port.
bench_start_pg() {
    pg_port=$(bench_free_port)
    chmod 755 "$work"
    mkdir -p "$work/pg"
    [ "$(id -u)" = 0 ] && chown postgres "$work/pg"
    echo pw >"$work/pg/pw" && chmod 644 "$work/pg/pw"
    bench_as_postgres "$pgbin/initdb" -D "$work/pg/data" -U postgres --auth=scram-sha-256 -E UTF8 \
        --locale=C --no-sync --pwfile="$work/pg/pw" >/dev/null
    bench_as_postgres "$pgbin/pg_ctl" -D "$work/pg/data" -l "$work/pg/log" -w \
        -o "-p $pg_port -k $work/pg -c listen_addresses=127.0.0.1 -c fsync=off $*" start >/dev/null
    export PGPASSWORD=pw
}
pg_url() { echo "postgresql://postgres:pw@127.0.0.1:$pg_port/$1"; }
# The psql command line (without a database) for commands run by another process.
pg_psql_cmd() { echo "psql -q -h 127.0.0.1 -p $pg_port -U postgres -v ON_ERROR_STOP=1"; }
# `pg_psql DB [ARG]...`: psql on DB, reading stdin unless ARGs say otherwise; output dropped.
pg_psql() { $(pg_psql_cmd) -d "$@" >/dev/null; }
# `pg_sql SQL [DB]`: one statement, on DB (default: postgres).
pg_sql() { pg_psql "${2:-postgres}" -c "$1"; }

# `bench_start_mariadb`: a MariaDB server in $work/my (after bench_need_mariadb and
# bench_work), run as this user (`--user` lets root run it); root's password over TCP is
# pw. Sets my_port.
bench_start_mariadb() {
    my_port=$(bench_free_port)
    mkdir -p "$work/my"
    local me
    me=$(id -un)
    mariadb-install-db --no-defaults --datadir="$work/my/data" --user="$me" \
        --auth-root-authentication-method=normal --skip-test-db --skip-name-resolve >/dev/null
    "$mariadbd" --no-defaults --datadir="$work/my/data" --socket="$work/my/sock" --user="$me" \
        --pid-file="$work/my/pid" --port="$my_port" --bind-address=127.0.0.1 --tmpdir="$work/my" \
        --skip-name-resolve --innodb-flush-log-at-trx-commit=2 --skip-log-bin \
        --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci >"$work/my/log" 2>&1 &
    bench_pids+=($!)
    bench_poll 300 "MariaDB (log: $work/my/log)" mariadb --socket="$work/my/sock" -uroot -e "SELECT 1"
    my_sql "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'; ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY 'pw'; GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION"
}
my_url() { echo "mysql://root:pw@127.0.0.1:$my_port/$1"; }
# `my_sql SQL`: statements as root over the server's socket.
my_sql() { mariadb --socket="$work/my/sock" -uroot -e "$1"; }
# `my_client DB`: the mariadb client on DB over TCP, reading stdin.
my_client() { mariadb -h 127.0.0.1 -P "$my_port" -uroot -ppw "$1"; }

# The line heading a run's figures: the servers started, safemig's version, the cores, the
# date (UTC), then FIELDs.
bench_header() {
    local line="" field
    [ -n "${pg_port:-}" ] && line+="PostgreSQL $("$pgbin/postgres" --version | awk '{print $3}'), "
    [ -n "${my_port:-}" ] && line+="MariaDB $("$mariadbd" --version | awk '{print $3}'), "
    line+="safemig $("$safemig" --version | head -1 | awk '{print $2}'), $(nproc) cores, $(date -u +%Y-%m-%d)"
    for field in "$@"; do line+=", $field"; done
    echo "$line"
}

# `bench_three_migrations DIR PROVIDER`: the history most benches measure: three small
# migrations (users, posts, tags) for PROVIDER.
bench_three_migrations() {
    local dir=$1
    mkdir -p "$dir/20240101000000_init" "$dir/20240102000000_posts" "$dir/20240103000000_tags"
    echo "provider = \"$2\"" >"$dir/migration_lock.toml"
    echo 'CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(100));' >"$dir/20240101000000_init/migration.sql"
    echo 'CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER);' >"$dir/20240102000000_posts/migration.sql"
    echo 'CREATE TABLE tags (id INTEGER PRIMARY KEY, name VARCHAR(50));' >"$dir/20240103000000_tags/migration.sql"
}

# `bench_sqlite_tenants DIR MIGRATIONS N`: N SQLite databases DIR/t0000.db… with
# MIGRATIONS applied: the first deployed by safemig, the others copies of it.
bench_sqlite_tenants() {
    local dir=$1 i
    mkdir -p "$dir"
    "$safemig" deploy --url "file:$dir/t0000.db" --dir "$2" >/dev/null
    for i in $(seq 1 $(($3 - 1))); do cp "$dir/t0000.db" "$dir/t$(printf %04d "$i").db"; done
}

# `bench_corpus HISTORY...`: sets `corpus` (SAFEMIG_CORPUS, else ../shared/corpus) and
# fails unless each HISTORY (a path inside it) is there.
bench_corpus() {
    corpus=${SAFEMIG_CORPUS:-$PWD/../shared/corpus}
    local history
    for history in "$@"; do
        [ -d "$corpus/$history" ] || bench_fail "needs the corpus at $corpus (SAFEMIG_CORPUS): $history is missing"
    done
}

# `bench_means FILE`: the mean of each result of a hyperfine JSON export, in seconds.
bench_means() {
    python3 -c "import json; r = json.load(open('$1'))['results']; print(' '.join(f'{x[\"mean\"]:.3f}' for x in r))"
}
