#!/usr/bin/env bash
# Compares two builds on the steady-state probe, in an order that cancels drift: A B B A, repeated. Back-to-back
# runs of one build on this 2-core VM differ by 20% or more (docs/benchmarks.md), and the machine's speed drifts
# over minutes, so one pair cannot rank two builds; medians over alternating runs can, for large enough effects.
#
# usage: scripts/ab.sh [--rounds N] [--postgres] REV_A REV_B [service settings for B...]
#   REV_A, REV_B  any git revisions (commits, branches, HEAD~1); each is checked out into its own worktree under
#                 .bench/ab/, built there, and measured with that revision's own scripts/steady-state.sh
#   --rounds N    A B B A rounds (default 2, so 4 runs of each build, about 7 minutes)
#   --postgres    both builds on the private PostgreSQL instead of SQLite
#   e.g. scripts/ab.sh HEAD~1 HEAD
#        scripts/ab.sh HEAD HEAD --Storage:CommitGatherMilliseconds=0   (a setting against the default)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
rounds=2 engine=()
while [[ ${1:-} == --* ]]; do
    case "$1" in
        --rounds) rounds="$2"; shift 2 ;;
        --postgres) engine=(--postgres); shift ;;
        *) echo "unknown option $1 (see the header of $0)" >&2; exit 2 ;;
    esac
done
[[ $# -ge 2 ]] || { echo "usage: $0 [--rounds N] [--postgres] REV_A REV_B [service settings for B...]" >&2; exit 2; }
rev_a="$1" rev_b="$2"
shift 2
# Arguments after the revisions go to build B only, so a setting can be compared with the default on one build.
args_b=("$@")

source "$repo/scripts/lib/worktree.sh"
dir_a="$(worktree_for "$rev_a" scripts/steady-state.sh)" || exit 2
dir_b="$(worktree_for "$rev_b" scripts/steady-state.sh)" || exit 2

declare -a runs_a=() runs_b=() cpu_a=() cpu_b=()
# Per-order costs of one run over its 5 measured seconds (22-27), from the files steady-state.sh leaves: service and
# load generator CPU (cpu.txt), pwrite calls (perf.csv), and the hypervisor's steal when the script recorded it.
# Prints "SERVICE_US text"; the drift this script cancels shows in tickets/s far more than in CPU per order.
run_costs() {
    local run_dir=$1 orders
    orders=$(grep -aE '^\[ +(22|27)\.0s\]' "$run_dir/load.txt" | awk '{ print $8 }' | paste -sd' ')
    awk -v orders="$orders" -v perf="$run_dir/perf.csv" '
        BEGIN { split(orders, o, " "); n = o[2] - o[1]; pwrite = -1
                while ((getline line < perf) > 0) if (line ~ /pwrite64/) { split(line, f, ","); pwrite = f[1] } }
        { for (i = 1; i <= NF; i++) { if ($i == "service") svc = $(i + 1) + 0; if ($i == "generator") lg = $(i + 1) + 0; if ($i == "steal") st = $(i + 1) }
          if (n <= 0) { print "0 (no orders counted)"; exit }
          printf "%.0f per order: service %.0f µs, load generator %.0f µs, pwrite %s; steal %s cores\n", svc * 5e6 / n, svc * 5e6 / n, lg * 5e6 / n,
              (pwrite >= 0 ? sprintf("%.2f", pwrite / n) : "-"), (st == "" ? "-" : st) }' "$run_dir/cpu.txt"
}
measure() {  # measure DIR [args...] -> prints "TICKETS_PER_S SERVICE_US text"
    local output run_dir tickets
    output="$("$@" 2>&1)"
    run_dir="$(sed -n 's/^details: //p' <<<"$output")"
    # 0 when the run printed no steady state, so the costs' first number is never read as its rate.
    tickets="$(awk '/^steady state:/ { print $3 }' <<<"$output")"
    echo "${tickets:-0} $( [[ -n $run_dir ]] && run_costs "$run_dir")"
}
for round in $(seq 1 "$rounds"); do
    for side in a b b a; do
        if [[ $side == a ]]; then
            read -r value cpu costs < <(measure "$dir_a/scripts/steady-state.sh" "${engine[@]}")
            runs_a+=("${value:-0}") cpu_a+=("${cpu:-0}")
        else
            read -r value cpu costs < <(measure "$dir_b/scripts/steady-state.sh" "${engine[@]}" "${args_b[@]}")
            runs_b+=("${value:-0}") cpu_b+=("${cpu:-0}")
        fi
        echo "round $round, $side: ${value:-failed} tickets/s; ${costs:-}"
        # A run that measured nothing would enter the medians as 0 and skew the ratio: the comparison stops instead.
        [[ -n ${value:-} && ${value} != 0 ]] || { echo "ab.sh: a run of side $side failed; no comparison" >&2; exit 1; }
    done
done

median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
median_a="$(median "${runs_a[@]}")" median_b="$(median "${runs_b[@]}")"
echo "A = $rev_a: ${runs_a[*]} (median $median_a)"
echo "B = $rev_b${args_b[*]:+ ${args_b[*]}}: ${runs_b[*]} (median $median_b)"
awk -v a="$median_a" -v b="$median_b" 'BEGIN { if (a > 0) printf "B / A = %.3f\n", b / a }'
echo "service CPU per order (µs): A ${cpu_a[*]} (median $(median "${cpu_a[@]}")), B ${cpu_b[*]} (median $(median "${cpu_b[@]}"))"
