#!/usr/bin/env bash
# Times `barman list-servers` and `barman show-servers` on a 20-server configuration (no
# PostgreSQL involved), with hyperfine. Set BARMAN_PY=/path/to/python-barman to time Barman too.
#
#   cargo build --release -p barman-cli && benches/config.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { echo "hyperfine is required: apt-get install hyperfine" >&2; exit 2; }
ours=${BARMAN_BIN:-target/release/barman}
[ -x "$ours" ] || { echo "build first: cargo build --release -p barman-cli" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
user=$(id -un)
mkdir -p "$work/barman.d"
printf '[barman]\nbarman_home = %s/home\nbarman_user = %s\nconfiguration_files_directory = %s/barman.d\ncompression = gzip\nretention_policy = REDUNDANCY 2\n' \
  "$work" "$user" "$work" > "$work/barman.conf"
for i in $(seq -w 1 20); do
  printf '[pg%s]\ndescription = "Server %s"\nconninfo = host=127.0.0.1 port=1 user=barman dbname=postgres\nbackup_method = postgres\narchiver = on\nstreaming_archiver = on\nslot_name = barman_%s\n' \
    "$i" "$i" "$i" > "$work/barman.d/pg$i.conf"
done
commands=("$ours -c $work/barman.conf list-servers" "$ours -c $work/barman.conf show-servers pg01")
if [ -n "${BARMAN_PY:-}" ]; then
  commands+=("$BARMAN_PY -c $work/barman.conf list-servers")
fi
hyperfine --warmup 5 --runs "${RUNS:-50}" -N "${commands[@]}"
