#!/usr/bin/env bash
# Times `barman check pg` with hyperfine against a throwaway PostgreSQL 15 cluster on
# 127.0.0.1, set up as the Barman guide describes (standard `barman` role with the guide's
# GRANTs, `streaming_barman`, passwords in .pgpass, backup_method = postgres, archive_command
# shipping), in three cases:
#
#   local     one archived WAL, no backups; client tools from path_prefix (PostgreSQL 15's bin)
#   wrapper   the same, client tools found on PATH (Debian's pg_wrapper, a Perl script)
#   catalogue 1,000 backups (meta/*-backup.info) and 500,000 WAL entries in xlog.db
#
# then `local` and `catalogue` with Barman 3.20.1 when /opt/barman-venv exists (BARMAN_PY=...
# picks another one). Everything lives in a temporary directory removed at exit.
#
#   cargo build --release -p barman-cli && benches/check.sh
#
# RUNS (default 30) runs per command of ours, PY_RUNS (default 5) of Barman.
set -euo pipefail
# shellcheck source=benches/seed-cluster.sh
source "$(dirname "$0")/seed-cluster.sh"
command -v python3 >/dev/null || { echo "python3 is required to generate the catalogue" >&2; exit 2; }
seed_cluster check-bench

# One configuration per case, each with its own barman_home.
configure() { # name, extra server options
  mkdir -p "$work/$1/pg/wals"
  printf '[barman]\nbarman_home = %s\nbarman_user = %s\n\n[pg]\nconninfo = host=127.0.0.1 port=%s user=barman dbname=postgres\nstreaming_conninfo = host=127.0.0.1 port=%s user=streaming_barman\nbackup_method = postgres\narchiver = on\n%s' \
    "$work/$1" "$(id -un)" "$port" "$port" "$2" > "$work/$1.conf"
  printf '000000010000000000000001\t16777216\t1700000000.0\tNone\tNone\n' > "$work/$1/pg/wals/pg-xlog.db"
}
configure local "path_prefix = $pg_bin"$'\n'
configure wrapper ""
configure catalogue "path_prefix = $pg_bin"$'\n'
python3 - "$work/catalogue/pg" <<'EOF'
import os, sys, time
home = sys.argv[1]
os.makedirs(home + '/meta', exist_ok=True)
segments, backups, every = 500_000, 1_000, 500
start = time.time() - segments * 60
name = lambda i: '00000001%08X%08X' % (i // 256, i % 256)
with open(home + '/wals/pg-xlog.db', 'w') as xlogdb:
    for i in range(segments):
        xlogdb.write('%s\t16777216\t%r\tNone\tNone\n' % (name(i), start + i * 60))
stamp = lambda t, f: time.strftime(f, time.gmtime(t))
for b in range(backups):
    first = b * every
    t = start + first * 60
    with open('%s/meta/%s-backup.info' % (home, stamp(t, '%Y%m%dT%H%M%S')), 'w') as info:
        info.write(
            "backup_label=None\nbegin_offset=40\nbegin_time=%s+00:00\nbegin_wal=%s\nbegin_xlog=0/0\n"
            "children_backup_ids=None\ncluster_size=23394861\ncompression=None\nconfig_file=/etc/postgresql.conf\n"
            "copy_stats={'copy_time': 1.0, 'total_time': 1.0}\ndata_checksums=off\ndeduplicated_size=23227891\n"
            "encryption=None\nend_offset=0\nend_time=%s+00:00\nend_wal=%s\nend_xlog=0/0\nerror=None\n"
            "hba_file=/etc/pg_hba.conf\nident_file=/etc/pg_ident.conf\nincluded_files=None\nmode=postgres\n"
            "parent_backup_id=None\npgdata=/var/lib/postgresql/data\nserver_name=pg\nsize=23227891\nstatus=DONE\n"
            "summarize_wal=None\nsystemid=1\ntablespaces=None\ntimeline=1\nversion=150018\n"
            "xlog_segment_size=16777216\n"
            % (stamp(t, '%Y-%m-%d %H:%M:%S'), name(first), stamp(t + 60, '%Y-%m-%d %H:%M:%S'), name(first + 1)))
EOF

# Every case must pass (a failing check would time something else).
for case in local wrapper catalogue; do
  "$ours" -c "$work/$case.conf" check pg >/dev/null || { "$ours" -c "$work/$case.conf" check pg; exit 1; }
done
ours_cases=()
for case in local wrapper catalogue; do
  ours_cases+=(-n "ours: $case" "$ours -c $work/$case.conf check pg")
done
hyperfine --warmup 3 --runs "$runs" -N "${ours_cases[@]}"
if [ -x "$python_barman" ]; then
  hyperfine --warmup 1 --runs "${PY_RUNS:-5}" -N \
    -n "Barman 3.20.1: local" "$python_barman -c $work/local.conf check pg" \
    -n "Barman 3.20.1: catalogue" "$python_barman -c $work/catalogue.conf check pg"
fi
