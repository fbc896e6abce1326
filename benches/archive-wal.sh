#!/usr/bin/env bash
# Times `barman archive-wal` moving N queued 16 MiB WAL files from incoming/ into the archive
# (no compression configured: the cost of the archive path itself), and an empty run (the
# fixed start-up cost). Set BARMAN_PY=/path/to/python-barman to time Barman on the same data.
#
#   cargo build --release -p barman-cli && benches/archive-wal.sh [N]      (N defaults to 200)
#
# The files are synced before timing, as put-wal leaves them. Up to 1000 files each is its own
# copy; beyond that (20,000 files would need 320 GiB) they are hard links of a few segments
# (a file system allows some 65,000 links per file), which costs archive-wal the same per
# file: it renames and links, it never rewrites the data.
# MODE=copies|links overrides the choice. WORKDIR chooses where the data goes (default /var/tmp).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-200}
ours=${BARMAN_BIN:-target/release/barman}
[ -x "$ours" ] || { echo "build first: cargo build --release -p barman-cli" >&2; exit 2; }
mode=${MODE:-$([ "$n" -le 1000 ] && echo copies || echo links)}
work=$(mktemp -d "${WORKDIR:-/var/tmp}/archive-wal-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
# One source segment per 60,000 queued files (ext4 allows 65,000 links per inode).
links_per_segment=60000
for s in $(seq 0 $((n / links_per_segment))); do
  head -c $((16 << 20)) /dev/urandom > "$work/segment-$s"
done

# Writes a configuration with barman_home $work/$1 and queues N segments in its incoming/.
prepare() {
  local home=$work/$1
  mkdir -p "$home/pg/incoming"
  printf '[barman]\nbarman_home = %s\nbarman_user = %s\n[pg]\nconninfo = host=127.0.0.1 port=1\nbackup_method = postgres\narchiver = on\n' \
    "$home" "$(id -un)" > "$home.conf"
  for i in $(seq 1 "$n"); do
    local name
    name=$(printf '00000001%08X%08X' $((i / 256)) $((i % 256)))
    local source=$work/segment-$((i / links_per_segment))
    if [ "$mode" = copies ]; then cp "$source" "$home/pg/incoming/$name"; else ln "$source" "$home/pg/incoming/$name"; fi
  done
  sync
}

# Prints the seconds `$@` takes, its output discarded.
seconds() {
  local start end
  start=$(date +%s.%N)
  "$@" > /dev/null
  end=$(date +%s.%N)
  echo "$end - $start" | bc -l
}

# Times one implementation: an empty run first (start-up), then the N files.
bench() {
  local label=$1 binary=$2
  prepare "$label"
  mkdir -p "$work/$label-empty/pg/incoming"
  sed "s|$work/$label\$|$work/$label-empty|" "$work/$label.conf" > "$work/$label-empty.conf"
  local empty total
  empty=$(seconds "$binary" -c "$work/$label-empty.conf" archive-wal pg 2>/dev/null)
  total=$(seconds "$binary" -c "$work/$label.conf" archive-wal pg 2>/dev/null)
  local left
  left=$(find "$work/$label/pg/incoming" -type f | wc -l)
  [ "$left" -eq 0 ] || { echo "$label left $left files in incoming/" >&2; exit 1; }
  printf '%-8s %6d files (%s): total %8.3f s, empty run %6.1f ms, per file %7.3f ms\n' \
    "$label" "$n" "$mode" "$total" "$(echo "$empty * 1000" | bc -l)" "$(echo "($total - $empty) * 1000 / $n" | bc -l)"
  rm -rf "${work:?}/$label"
}

bench ours "$ours"
if [ -n "${BARMAN_PY:-}" ]; then
  bench barman "$BARMAN_PY"
fi
