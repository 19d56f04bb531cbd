#!/usr/bin/env bash
# Compares two builds on whole cold sell-outs, A B B A, repeated: the end of a sale shows only in whole sales, which
# scripts/ab.sh (the steady state) does not run. One cold run on this 2-core VM can land anywhere in a ±15% band, and
# the machine drifts over minutes, so the table also gives what drifts less: each run's end of the sale against
# its own body (the last 20% of the tickets' service CPU per order over the rest's).
#
# usage: scripts/cold-ab.sh [--rounds N] REV_A REV_B [scripts/bench.sh options for both...]
#   REV_A, REV_B  any git revisions; each is checked out into its own worktree under .bench/ab/ and run with that
#                 revision's own scripts/bench.sh --no-floor
#   --rounds N    A B B A rounds (default 2, so 4 sell-outs of each build, about 6 minutes at 150k tickets)
#   e.g. scripts/cold-ab.sh HEAD~1 HEAD
#        scripts/cold-ab.sh --rounds 1 HEAD~1 HEAD --scale 0.1
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
rounds=2
if [[ ${1:-} == --rounds ]]; then rounds="$2"; shift 2; fi
[[ $# -ge 2 && $rounds =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [--rounds N] REV_A REV_B [scripts/bench.sh options...]" >&2; exit 2; }
rev_a="$1" rev_b="$2"
shift 2
source "$repo/scripts/lib/worktree.sh"
dir_a="$(worktree_for "$rev_a" scripts/bench.sh)" || exit 2
dir_b="$(worktree_for "$rev_b" scripts/bench.sh)" || exit 2

source "$repo/scripts/lib/cold-sale.sh"
labelled=()
for round in $(seq 1 "$rounds"); do
    for side in A B B A; do
        dir=$dir_a
        [[ $side == B ]] && dir=$dir_b
        cold_sale "$dir/scripts/bench.sh" "round $round, $side" "$@"
        labelled+=("$side=$sale_dir")
    done
done
echo "A = $rev_a ($(git rev-parse --short "$rev_a")), B = $rev_b ($(git rev-parse --short "$rev_b"))"
python3 "$repo/scripts/lib/sale-table.py" --by-label "${labelled[@]}"
