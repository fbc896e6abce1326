#!/usr/bin/env bash
# Times `barman status pg` and `barman show-servers pg` with hyperfine against a throwaway
# PostgreSQL 15 cluster on 127.0.0.1 configured as the Barman guide describes (standard
# `barman` role with the guide's GRANTs, `streaming_barman`, passwords in .pgpass,
# backup_method = postgres, archive_command shipping, one WAL already archived by PostgreSQL):
#
#   status                 one PostgreSQL session
#   show-servers           PostgreSQL and replication sessions, pg_basebackup --version, client
#                          tools from path_prefix (PostgreSQL 15's bin directory)
#   show-servers, wrapper  the same with the client tools found on PATH (Debian's pg_wrapper,
#                          a Perl script that takes ~20 ms to start)
#
# then the same commands with Barman 3.20.1 when /opt/barman-venv exists (BARMAN_PY=... picks
# another one). Everything lives in a temporary directory removed at exit.
#
#   cargo build --release -p barman-cli && benches/status.sh
#
# RUNS (default 30) runs per command of ours, PY_RUNS (default 5) of Barman.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { echo "hyperfine is required: apt-get install hyperfine" >&2; exit 2; }
ours=$(pwd)/target/release/barman
[ -x "$ours" ] || { echo "build first: cargo build --release -p barman-cli" >&2; exit 2; }
pg_bin=/usr/lib/postgresql/15/bin
[ -x "$pg_bin/initdb" ] || { echo "PostgreSQL 15 is required (scripts/setup installs it)" >&2; exit 2; }
python_barman=${BARMAN_PY:-/opt/barman-venv/bin/barman}
runs=${RUNS:-30}

work=$(mktemp -d /var/tmp/status-bench.XXXXXX)
chmod 755 "$work"
data=$work/pg/data
stop_cluster() {
  if [ -f "$data/postmaster.pid" ]; then
    as_pg "$pg_bin/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap stop_cluster EXIT

# PostgreSQL refuses to run as root: then it runs as `postgres`.
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --user-group --shell /usr/sbin/nologin postgres
  as_pg() { runuser -u postgres -- env -i PATH=/usr/bin:/bin LANG=C "$@"; }
  install -d -o postgres "$work/pg"
else
  as_pg() { env -i PATH=/usr/bin:/bin LANG=C "$@"; }
  mkdir -p "$work/pg"
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
as_pg "$pg_bin/initdb" -D "$data" -U postgres --auth-local=trust --auth-host=scram-sha-256 --no-sync >/dev/null
printf "%s\n" "listen_addresses = '127.0.0.1'" "port = $port" "unix_socket_directories = '$work/pg'" \
  "fsync = off" "archive_mode = on" "archive_command = 'true'" "max_wal_senders = 2" \
  "max_replication_slots = 2" >> "$data/postgresql.conf"
as_pg "$pg_bin/pg_ctl" -D "$data" -l "$work/pg/log" -w start >/dev/null
as_pg "$pg_bin/psql" -X -q -o /dev/null -h "$work/pg" -p "$port" -U postgres -d postgres <<'SQL'
CREATE ROLE barman LOGIN PASSWORD 'barman-secret';
GRANT EXECUTE ON FUNCTION pg_backup_start(text, boolean) to barman;
GRANT EXECUTE ON FUNCTION pg_backup_stop(boolean) to barman;
GRANT EXECUTE ON FUNCTION pg_switch_wal() to barman;
GRANT EXECUTE ON FUNCTION pg_create_restore_point(text) to barman;
GRANT pg_read_all_settings TO barman;
GRANT pg_read_all_stats TO barman;
CREATE ROLE streaming_barman LOGIN REPLICATION PASSWORD 'streaming-secret';
SELECT pg_switch_wal();
SQL
export HOME=$work/home
mkdir -p "$HOME"
printf '127.0.0.1:%s:*:barman:barman-secret\n127.0.0.1:%s:*:streaming_barman:streaming-secret\n' \
  "$port" "$port" > "$HOME/.pgpass"
chmod 600 "$HOME/.pgpass"

# `local`: client tools from path_prefix; `wrapper`: from PATH.
for case in local wrapper; do
  prefix=""
  [ "$case" = local ] && prefix="path_prefix = $pg_bin"
  printf '[barman]\nbarman_home = %s\nbarman_user = %s\n\n[pg]\n%s\n%s\n%s\n%s\n%s\n' \
    "$work/$case" "$(id -un)" \
    "conninfo = host=127.0.0.1 port=$port user=barman dbname=postgres" \
    "streaming_conninfo = host=127.0.0.1 port=$port user=streaming_barman" \
    "backup_method = postgres" "archiver = on" "$prefix" > "$work/$case.conf"
done

# Every command must reach the server (a failure would time something else).
for args in "local.conf status pg" "local.conf show-servers pg" "wrapper.conf show-servers pg"; do
  set -- $args
  out=$("$ours" -c "$work/$1" "${@:2}" 2>&1)
  case "$out" in *WARNING*|*ERROR*|*FAILED*) echo "$out" >&2; exit 1 ;; esac
done

hyperfine --warmup 3 --runs "$runs" -N \
  -n "ours: status" "$ours -c $work/local.conf status pg" \
  -n "ours: show-servers" "$ours -c $work/local.conf show-servers pg" \
  -n "ours: show-servers, wrapper" "$ours -c $work/wrapper.conf show-servers pg"
if [ -x "$python_barman" ]; then
  hyperfine --warmup 1 --runs "${PY_RUNS:-5}" -N \
    -n "Barman 3.20.1: status" "$python_barman -c $work/local.conf status pg" \
    -n "Barman 3.20.1: show-servers" "$python_barman -c $work/local.conf show-servers pg" \
    -n "Barman 3.20.1: show-servers, wrapper" "$python_barman -c $work/wrapper.conf show-servers pg"
fi
