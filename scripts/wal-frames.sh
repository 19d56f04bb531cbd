#!/usr/bin/env bash
# Where a SQLite group commit's pages go: runs the steady-state sale (as scripts/steady-state.sh does), freezes the
# service mid-sale (SIGSTOP), copies one shard database with its WAL, kills the service (SIGKILL, so no clean close
# checkpoints the WAL away) and reads the copy's WAL. For every commit still in the WAL it counts the frames (pages)
# written, and names each page's B-tree (table or index) and whether it is a leaf or an interior page. Pages written
# per order are what the shard schema's layout costs.
#
# usage: scripts/wal-frames.sh [--seconds S] [service configuration arguments...]
#   --seconds S  sell for S seconds before the stop (default 22)
# needs: the sqlite3 command-line shell (its dbstat table maps pages to B-trees) and python3
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
seconds=22
if [[ ${1:-} == --seconds ]]; then seconds="$2"; shift 2; fi
command -v sqlite3 >/dev/null || { echo "wal-frames.sh needs the sqlite3 shell (apt-get install sqlite3)" >&2; exit 2; }
port=5093
run_dir="$repo/.bench/wal-frames-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$run_dir/copy"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

# shellcheck source=scripts/lib/long-sale.sh
source "$repo/scripts/lib/long-sale.sh"
start_long_sale "$port" "$run_dir" $((seconds + 20)) --Storage:Provider=Sqlite --Storage:DataPath="$run_dir/data" "$@"
sleep "$seconds"
# Frozen first, so the copy is one consistent moment of the database file and its WAL.
kill -STOP "$service_pid"
cp "$run_dir"/data/shards/shard_0000.db* "$run_dir/copy/"
cleanup

python3 - "$run_dir/copy/shard_0000.db" <<'PY'
import collections, os, shutil, struct, subprocess, sys
db = sys.argv[1]
wal = open(db + "-wal", "rb").read()
_, _, page_size, _, salt1, salt2, _, _ = struct.unpack(">8I", wal[:32])
commits, current, offset = [], [], 32
# Frames of the current WAL generation carry the header's salts; older ones left behind after a restart do not.
while offset + 24 + page_size <= len(wal):
    page, commit_size, s1, s2 = struct.unpack(">4I", wal[offset:offset + 16])
    if (s1, s2) != (salt1, salt2):
        break
    data = wal[offset + 24:offset + 24 + page_size]
    current.append((page, data[100 if page == 1 else 0]))
    if commit_size:
        commits.append(current)
        current = []
    offset += 24 + page_size
if not commits:
    sys.exit("no complete commit in the WAL; try another --seconds")
# dbstat names each page's B-tree; a copy is opened so the original stays as it was.
probe = db + ".probe"
shutil.copy(db, probe)
shutil.copy(db + "-wal", probe + "-wal")
rows = subprocess.run(["sqlite3", probe, "SELECT name, pageno FROM dbstat"], capture_output=True, text=True, check=True).stdout
owner = {int(p): name for name, p in (line.rsplit("|", 1) for line in rows.splitlines())}
kinds = {0x0D: "leaf", 0x0A: "leaf", 0x05: "interior", 0x02: "interior"}
counts = collections.Counter((owner.get(p, "(freed or new)"), kinds.get(t, "other")) for c in commits for p, t in c)
n = len(commits)
pages = sum(counts.values())
# The WAL restarts after a complete checkpoint, so the database file alone holds what was there before these commits,
# unless a checkpoint has already copied some of them: the WAL index (-shm) says how many frames (nBackfill, the u32
# after its two 48-byte headers).
backfilled = struct.unpack("<I", open(db + "-shm", "rb").read()[96:100])[0]
if backfilled == 0:
    before = db + ".before"
    shutil.copy(db, before)
    count = lambda path: int(subprocess.run(["sqlite3", path, "SELECT count(*) FROM orders"], capture_output=True, text=True, check=True).stdout)
    orders = count(probe) - count(before)
    per_order = f"{orders / n:.1f} orders per commit, {pages / max(orders, 1):.2f} pages per order"
else:
    per_order = f"orders per commit unknown (a checkpoint had copied {backfilled} frames; run again)"
print(f"{n} commits in the WAL of {os.path.basename(db)}: {pages / n:.1f} pages per commit ({page_size}-byte pages), {per_order}")
for (name, kind), count in counts.most_common():
    if count / n >= 0.05:
        print(f"  {count / n:7.2f}  {name:40s} {kind}")
PY
echo "details: $run_dir"
