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

worktree_for() {
    local commit dir
    commit="$(git rev-parse --verify "$1^{commit}")"
    dir="$repo/.bench/ab/${commit:0:12}"
    [[ -d $dir ]] || git worktree add --detach -q "$dir" "$commit"
    [[ -x $dir/scripts/steady-state.sh ]] || { echo "$1 has no scripts/steady-state.sh" >&2; exit 2; }
    echo "$dir"
}
dir_a="$(worktree_for "$rev_a")" dir_b="$(worktree_for "$rev_b")"

declare -a runs_a=() runs_b=()
measure() {  # measure DIR [args...] -> prints tickets/s
    "$@" 2>&1 | awk '/^steady state:/ { print $3 }'
}
for round in $(seq 1 "$rounds"); do
    for side in a b b a; do
        if [[ $side == a ]]; then
            value="$(measure "$dir_a/scripts/steady-state.sh" "${engine[@]}")"
            runs_a+=("${value:-0}")
        else
            value="$(measure "$dir_b/scripts/steady-state.sh" "${engine[@]}" "${args_b[@]}")"
            runs_b+=("${value:-0}")
        fi
        echo "round $round, $side: ${value:-failed} tickets/s"
    done
done

median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
median_a="$(median "${runs_a[@]}")" median_b="$(median "${runs_b[@]}")"
echo "A = $rev_a: ${runs_a[*]} (median $median_a)"
echo "B = $rev_b${args_b[*]:+ ${args_b[*]}}: ${runs_b[*]} (median $median_b)"
awk -v a="$median_a" -v b="$median_b" 'BEGIN { if (a > 0) printf "B / A = %.3f\n", b / a }'
