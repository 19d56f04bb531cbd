#!/usr/bin/env bash
# Several cold sell-outs of one build, one after another, and their spread. A single cold run on this 2-core VM
# can land anywhere in a ±15% band (docs/benchmarks.md), so a headline is better told as a median with its range.
#
# usage: scripts/cold-runs.sh N [scripts/bench.sh options...]
#   runs `scripts/bench.sh --no-floor [options]` N times (a fresh service and load generator each time) and prints
#   one row per run and the median: sell-out time, tickets/s, p99, CPU per order of the service and of the load
#   generator, the machine's steal, and the last 20% of the tickets (share of the time, service CPU per order, and
#   that over the rest's).
#   e.g. scripts/cold-runs.sh 5
#        scripts/cold-runs.sh 3 --postgres
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
[[ ${1:-} =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 N [scripts/bench.sh options...]" >&2; exit 2; }
runs="$1"
shift

source "$repo/scripts/lib/cold-sale.sh"
labelled=()
for i in $(seq 1 "$runs"); do
    cold_sale "$repo/scripts/bench.sh" "run $i" "$@"
    labelled+=("$i=$sale_dir")
done
python3 "$repo/scripts/lib/sale-table.py" "${labelled[@]}"
