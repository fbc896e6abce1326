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
# shellcheck source=benches/seed-cluster.sh
source "$(dirname "$0")/seed-cluster.sh"
seed_cluster status-bench

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
