# Sourced by the benchmark scripts: checks the prerequisites, then starts a throwaway PostgreSQL 15
# cluster on 127.0.0.1 set up as the Barman guide describes (the standard `barman` role with the
# guide's GRANTs, `streaming_barman`, both passwords in $HOME/.pgpass, archive_command = 'true',
# max_wal_senders and max_replication_slots at 2, one WAL switched), in a temporary directory
# that is removed, cluster stopped, when the script exits.
#
# Sets: ours (release barman), pg_bin, python_barman (BARMAN_PY, default /opt/barman-venv),
# runs (RUNS, default 30), work (the directory), port, HOME; defines as_pg (runs a command as the
# cluster's owner: `postgres` when run as root).
#
# Usage: seed_cluster NAME  (NAME names the temporary directory)
cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v hyperfine >/dev/null || { echo "hyperfine is required: apt-get install hyperfine" >&2; exit 2; }
ours=$(pwd)/target/release/barman
[ -x "$ours" ] || { echo "build first: cargo build --release -p barman-cli" >&2; exit 2; }
pg_bin=/usr/lib/postgresql/15/bin
[ -x "$pg_bin/initdb" ] || { echo "PostgreSQL 15 is required (scripts/setup installs it)" >&2; exit 2; }
python_barman=${BARMAN_PY:-/opt/barman-venv/bin/barman}
runs=${RUNS:-30}

# PostgreSQL refuses to run as root: then it runs as `postgres`.
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --user-group --shell /usr/sbin/nologin postgres
  as_pg() { runuser -u postgres -- env -i PATH=/usr/bin:/bin LANG=C "$@"; }
else
  as_pg() { env -i PATH=/usr/bin:/bin LANG=C "$@"; }
fi

seed_cluster() {
  work=$(mktemp -d "/var/tmp/$1.XXXXXX")
  chmod 755 "$work"
  trap 'stop_seed_cluster' EXIT
  mkdir "$work/pg"
  [ "$(id -u)" = 0 ] && chown postgres "$work/pg"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  as_pg "$pg_bin/initdb" -D "$work/pg/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 --no-sync >/dev/null
  printf "%s\n" "listen_addresses = '127.0.0.1'" "port = $port" "unix_socket_directories = '$work/pg'" \
    "fsync = off" "wal_level = replica" "archive_mode = on" "archive_command = 'true'" \
    "max_wal_senders = 2" "max_replication_slots = 2" >> "$work/pg/data/postgresql.conf"
  as_pg "$pg_bin/pg_ctl" -D "$work/pg/data" -l "$work/pg/log" -w start >/dev/null
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
}

stop_seed_cluster() {
  if [ -f "$work/pg/data/postmaster.pid" ]; then
    as_pg "$pg_bin/pg_ctl" -D "$work/pg/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
