#!/usr/bin/env bash
# The WAL path over SSH on loopback, with real 16 MiB PostgreSQL 15 segments:
#
#   (a) the floor: a libssh2 connect + authenticate + exec of `true` (examples/ssh_exec),
#       and a durable 16 MiB write (dd conv=fsync);
#   (b) barman-wal-archive, per segment (client and `barman put-wal` on the other end);
#   (c) barman-wal-restore, per segment (needs `barman get-wal` on the other end);
#   (d) PostgreSQL's own archiver end to end: SEGMENTS segments switched, time until
#       pg_stat_archiver has archived them all through barman-wal-archive;
#   (e) peak RSS of both clients and of the remote barman put-wal/get-wal (/usr/bin/time -v);
#
# then (b), (c) and (e) for Barman 3.20.1 (its clients against its server) when
# /opt/barman-venv exists. Everything runs in a temporary directory with a private sshd
# and PostgreSQL cluster on 127.0.0.1, removed at exit.
#
#   cargo build --release --bins --examples -p barman-core -p barman-cli \
#       -p barman-wal-archive -p barman-wal-restore && benches/wal-path.sh
#
# RUNS (default 20) calls are timed for (b) and (c); SEGMENTS (default 100) for (d).
# Each call gets its own segment. Reported: min / median / mean in milliseconds.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
runs=${RUNS:-20}
segments=${SEGMENTS:-100}
release=$root/target/release
for binary in barman barman-wal-archive barman-wal-restore examples/ssh_exec; do
  [ -x "$release/$binary" ] || { echo "build first (see the header of $0): $release/$binary is missing" >&2; exit 2; }
done
pg_bin=/usr/lib/postgresql/15/bin
python_barman=/opt/barman-venv/bin
[ -x "$pg_bin/initdb" ] || { echo "PostgreSQL 15 is required (scripts/setup installs it)" >&2; exit 2; }

work=$(mktemp -d /var/tmp/wal-path-bench.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -f "$work/pg/data/postmaster.pid" ] && as_pg "$pg_bin/pg_ctl" -D "$work/pg/data" -m immediate stop >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

# PostgreSQL refuses to run as root: then it runs as `postgres`.
if [ "$(id -u)" = 0 ]; then
  pg_user=postgres
  id postgres >/dev/null 2>&1 || useradd --system --user-group --shell /usr/sbin/nologin postgres
  as_pg() { runuser -u postgres -- env -i PATH="$client_path" HOME="$client_home" LANG=C "$@"; }
else
  pg_user=$(id -un)
  as_pg() { env -i PATH="$client_path" HOME="$client_home" LANG=C "$@"; }
fi
login_user=$(id -un)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# --- the client side: one key (readable by the PostgreSQL user), known_hosts, ssh config,
# and an `ssh` wrapper so that OpenSSH (Barman's clients) reads the same config.
client_home=$work/client-home
mkdir -p "$client_home/.ssh" "$work/bin"
ssh-keygen -q -t ed25519 -N '' -C wal-path-bench -f "$client_home/.ssh/id_ed25519"
chown "$pg_user" "$client_home/.ssh/id_ed25519"
printf 'Host *\n    IdentityFile %s\n    UserKnownHostsFile %s\n    BatchMode yes\n' \
  "$client_home/.ssh/id_ed25519" "$client_home/.ssh/known_hosts" > "$client_home/.ssh/config"
printf '#!/bin/sh\nexec /usr/bin/ssh -F %s "$@"\n' "$client_home/.ssh/config" > "$work/bin/ssh"
chmod 755 "$work/bin/ssh" "$client_home" "$client_home/.ssh"
client_path=$work/bin:$release:/usr/local/bin:/usr/bin:/bin

# --- the Barman host: sshd whose sessions find $remote_bin/barman first.
sshd_port=$(free_port)
mkdir -p "$work/sshd" "$work/remote-bin"
ssh-keygen -q -t ed25519 -N '' -f "$work/sshd/host_key"
cp "$client_home/.ssh/id_ed25519.pub" "$work/sshd/authorized_keys"
printf '[127.0.0.1]:%s %s\n' "$sshd_port" "$(cut -d' ' -f1,2 "$work/sshd/host_key.pub")" > "$client_home/.ssh/known_hosts"
chmod 644 "$client_home/.ssh/known_hosts" "$client_home/.ssh/config"
mkdir -p /run/sshd
cat > "$work/sshd/sshd_config" <<EOF
ListenAddress 127.0.0.1
Port $sshd_port
HostKey $work/sshd/host_key
AuthorizedKeysFile $work/sshd/authorized_keys
PidFile $work/sshd/sshd.pid
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
StrictModes no
SetEnv "PATH=$work/remote-bin:/usr/local/bin:/usr/bin:/bin" "HOME=$work" LANG=C
EOF
/usr/sbin/sshd -D -e -f "$work/sshd/sshd_config" 2> "$work/sshd/log" &
pids+=($!)
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$sshd_port") 2>/dev/null && break; sleep 0.1; done

# The remote `barman`: $1 is the directory of the real one; with $2 = timed, its peak RSS
# (KiB) is appended to $work/remote-rss.
use_remote_barman() {
  if [ "${2:-}" = timed ]; then
    printf '#!/bin/sh\nexec /usr/bin/time -f %%M -a -o %s %s/barman "$@"\n' "$work/remote-rss" "$1" > "$work/remote-bin/barman"
  else
    printf '#!/bin/sh\nexec %s/barman "$@"\n' "$1" > "$work/remote-bin/barman"
  fi
  chmod 755 "$work/remote-bin/barman"
}
barman_conf() {  # $1: barman_home
  printf '[barman]\nbarman_home = %s\nbarman_user = %s\nlog_file = %s/barman.log\n' "$1" "$login_user" "$1"
  for server in pg bench; do
    printf '[%s]\nconninfo = host=127.0.0.1 port=1 user=barman dbname=postgres\nbackup_method = postgres\narchiver = on\n' "$server"
  done
}
mkdir -p "$work/ours" "$work/python"
barman_conf "$work/ours" > "$work/ours.conf"
barman_conf "$work/python" > "$work/python.conf"
chmod 755 "$work/ours" "$work/python"
client_args=(-U "$login_user" --port "$sshd_port")

now_ns() { date +%s%N; }
# Prints "min median mean" (ms) of the numbers (ns) on stdin.
stats() { sort -n | awk '{ v[NR] = $1 / 1e6; s += v[NR] } END { printf "min %7.1f  median %7.1f  mean %7.1f ms", v[1], v[int((NR + 1) / 2)], s / NR }'; }
report() { printf '%-58s %s\n' "$1" "$2"; }

# --- (d) first: PostgreSQL produces the segments every other measurement uses.
use_remote_barman "$release"
mkdir -p "$work/pg" && chown "$pg_user" "$work/pg"
as_pg "$pg_bin/initdb" -D "$work/pg/data" -U postgres --auth=trust --no-sync >/dev/null
pg_port=$(free_port)
cat >> "$work/pg/data/postgresql.conf" <<EOF
listen_addresses = ''
port = $pg_port
unix_socket_directories = '$work/pg'
wal_level = replica
archive_mode = on
archive_command = 'barman-wal-archive ${client_args[*]} -c $work/ours.conf 127.0.0.1 pg %p'
max_wal_size = 4GB
EOF
as_pg "$pg_bin/pg_ctl" -D "$work/pg/data" -l "$work/pg/log" -w start >/dev/null
psql_pg() { as_pg "$pg_bin/psql" -X -A -t -q -h "$work/pg" -p "$pg_port" -U postgres -d postgres -c "$1"; }
psql_pg "CREATE TABLE filler AS SELECT g AS id, md5(g::text) AS payload FROM generate_series(1, 1000) g" >/dev/null
start=$(now_ns)
for _ in $(seq "$segments"); do
  psql_pg "INSERT INTO filler SELECT g, md5(g::text) FROM generate_series(1, 2000) g; SELECT pg_switch_wal()" >/dev/null
done
while [ "$(psql_pg 'SELECT archived_count FROM pg_stat_archiver')" -lt "$segments" ]; do
  [ "$(psql_pg 'SELECT failed_count FROM pg_stat_archiver')" -eq 0 ] || { echo "archiving failed, see $work/pg/log" >&2; tail "$work/pg/log" >&2; exit 1; }
  sleep 0.05
done
elapsed=$(( $(now_ns) - start ))
as_pg "$pg_bin/pg_ctl" -D "$work/pg/data" -m fast -w stop >/dev/null
mapfile -t names < <(ls "$work/ours/pg/incoming" | sort)
mkdir -p "$work/segments"
for name in "${names[@]}"; do cp "$work/ours/pg/incoming/$name" "$work/segments/"; done
chmod -R a+rX "$work/segments"

echo "WAL path on loopback, 16 MiB segments, $runs runs each (release build, $(nproc) cores)"
report "(d) PostgreSQL archiver, $segments segments via barman-wal-archive" \
  "$(awk -v ns="$elapsed" -v n="$segments" 'BEGIN { printf "total %.2f s, %.1f ms per segment", ns / 1e9, ns / 1e6 / n }')"

# --- (a) the floor.
for _ in $(seq "$runs"); do
  t=$(now_ns); HOME=$client_home "$release/examples/ssh_exec" -p "$sshd_port" "$login_user@127.0.0.1" true < /dev/null; echo $(( $(now_ns) - t ))
done | stats > "$work/floor-ssh"
for i in $(seq "$runs"); do
  t=$(now_ns); dd if="$work/segments/${names[$i]}" of="$work/floor-dd.data" bs=1M conv=fsync status=none; echo $(( $(now_ns) - t ))
done | stats > "$work/floor-dd"
for i in $(seq "$runs"); do
  t=$(now_ns); HOME=$client_home "$release/examples/ssh_exec" -p "$sshd_port" "$login_user@127.0.0.1" 'cat > /dev/null' < "$work/segments/${names[$i]}"; echo $(( $(now_ns) - t ))
done | stats > "$work/reference-cat"
report "(a) floor: libssh2 connect + auth + exec true" "$(cat "$work/floor-ssh")"
report "(a) floor: durable 16 MiB write (dd conv=fsync)" "$(cat "$work/floor-dd")"
median_of() { awk '{ print $4 }' "$1"; }
floor=$(awk -v a="$(median_of "$work/floor-ssh")" -v b="$(median_of "$work/floor-dd")" 'BEGIN { printf "%.1f", a + b }')
report "(a) floor per segment (sum of the medians)" "$floor ms"
report "    reference: libssh2 exec of cat, 16 MiB on stdin" "$(cat "$work/reference-cat")"
# The floor above leaves out moving the 16 MiB through SSH; these include it, one per direction.
transfer_floor=$(awk -v a="$(median_of "$work/reference-cat")" -v b="$(median_of "$work/floor-dd")" 'BEGIN { printf "%.1f", a + b }')
report "(a) floor with the upload (exec of cat + durable write)" "$transfer_floor ms"
for i in $(seq "$runs"); do
  t=$(now_ns)
  HOME=$client_home "$release/examples/ssh_exec" -p "$sshd_port" "$login_user@127.0.0.1" "cat $work/segments/${names[$i]}" |
    dd of="$work/floor-download.data" bs=1M conv=fsync status=none
  echo $(( $(now_ns) - t ))
done | stats > "$work/reference-download"
download_floor=$(median_of "$work/reference-download")
report "(a) floor with the download (exec of cat into a durable file)" "$(cat "$work/reference-download")"

# Times $runs calls of a client; $1 label, $2 archive|restore, $3 client directory, $4 config.
time_client() {
  local label=$1 kind=$2 bin=$3 conf=$4 i name
  mkdir -p "$work/restored"
  for i in $(seq "$runs"); do
    name=${names[$i]}
    t=$(now_ns)
    if [ "$kind" = archive ]; then
      PATH=$client_path HOME=$client_home "$bin/barman-wal-archive" "${client_args[@]}" -c "$conf" 127.0.0.1 bench "$work/segments/$name"
    else
      PATH=$client_path HOME=$client_home "$bin/barman-wal-restore" "${client_args[@]}" -c "$conf" 127.0.0.1 bench "$name" "$work/restored/RECOVERYXLOG"
      cmp -s "$work/restored/RECOVERYXLOG" "$work/segments/$name" || { echo "$label: $name restored with different content" >&2; exit 1; }
    fi
    echo $(( $(now_ns) - t ))
  done | stats > "$work/timing"
  local direction_floor=$transfer_floor
  [ "$kind" = restore ] && direction_floor=$download_floor
  report "$label" "$(cat "$work/timing")  ($(awk -v m="$(median_of "$work/timing")" -v f="$floor" -v t="$direction_floor" \
    'BEGIN { printf "%.2f x floor, %.2f x floor with transfer", m / f, m / t }'))"
}

# Peak RSS (KiB) of one client call and of the remote barman it ran; $1 label, $2 archive|restore,
# $3, $4 as above. The segment archived is one the timing runs did not send.
rss() {
  local label=$1 kind=$2 bin=$3 conf=$4 name=${names[$((runs + 1))]} client
  use_remote_barman "$bin" timed
  : > "$work/remote-rss"
  if [ "$kind" = archive ]; then
    client=$(PATH=$client_path HOME=$client_home /usr/bin/time -f %M "$bin/barman-wal-archive" "${client_args[@]}" -c "$conf" 127.0.0.1 bench "$work/segments/$name" 2>&1 >/dev/null | tail -1)
  else
    client=$(PATH=$client_path HOME=$client_home /usr/bin/time -f %M "$bin/barman-wal-restore" "${client_args[@]}" -c "$conf" 127.0.0.1 bench "${names[1]}" "$work/restored/RSS" 2>&1 >/dev/null | tail -1)
  fi
  report "(e) peak RSS, $label" "client $((client / 1024)) MiB, remote barman $(( $(tail -1 "$work/remote-rss" 2>/dev/null || echo 0) / 1024 )) MiB"
  use_remote_barman "$bin"
}

has_get_wal() { PATH=$client_path HOME=$client_home "$1/barman-wal-restore" "${client_args[@]}" -c "$2" -t 127.0.0.1 bench x x >/dev/null 2>&1; }

time_client "(b) barman-wal-archive per segment" archive "$release" "$work/ours.conf"
if has_get_wal "$release" "$work/ours.conf"; then
  time_client "(c) barman-wal-restore per segment" restore "$release" "$work/ours.conf"
else
  report "(c) barman-wal-restore per segment" "skipped: this build's barman has no get-wal yet"
fi
rss "barman-wal-archive + put-wal" archive "$release" "$work/ours.conf"
if has_get_wal "$release" "$work/ours.conf"; then
  rss "barman-wal-restore + get-wal" restore "$release" "$work/ours.conf"
fi

if [ -x "$python_barman/barman" ]; then
  use_remote_barman "$python_barman"
  time_client "Barman 3.20.1: barman-wal-archive per segment" archive "$python_barman" "$work/python.conf"
  time_client "Barman 3.20.1: barman-wal-restore per segment" restore "$python_barman" "$work/python.conf"
  rss "Barman 3.20.1 barman-wal-archive + put-wal" archive "$python_barman" "$work/python.conf"
  rss "Barman 3.20.1 barman-wal-restore + get-wal" restore "$python_barman" "$work/python.conf"
else
  echo "Barman 3.20.1 not installed at /opt/barman-venv: no comparison"
fi
