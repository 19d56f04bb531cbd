#!/usr/bin/env bash
# The steady-state probe behind the A/B tables in docs/benchmarks.md. A sold-out festival run is mostly JIT warm-up
# on two cores, and run-to-run noise hides a 20% change; this measures the middle of a long sale instead.
#
# It starts the service (SQLite, Release) with the given configuration arguments, creates the festival at 10x
# capacity so it cannot sell out in time, and runs the load generator for 40 s. It prints the mean tickets/s over
# seconds 16-30 and, when perf is installed, the service's syscall counts over 5 s from second 22:
# fsyncs, page writes and context switches per order are what the storage settings change.
#
# usage: scripts/steady-state.sh [--crowd wrk-no-key] [--postgres] [service configuration arguments...] (options in
#        either order, before the settings)
#   e.g. scripts/steady-state.sh --Storage:CommitGatherMilliseconds=0
#   --postgres  shard databases on a private PostgreSQL (scripts/postgres.sh, in the run's folder, on STEADY_PGPORT or
#               15542) instead of SQLite files
#   --crowd wrk-no-key  wrk buys GA without Idempotency-Keys (the path of a keyless order) instead of the load
#               generator's keyed buyers; tickets/s then come from /sales read at seconds 16 and 30, and the perf
#               counts are not divided per order
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
port=5090
run_dir="$repo/.bench/steady-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$run_dir"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

storage_args=(--Storage:Provider=Sqlite --Storage:DataPath="$run_dir/data")
long_sale_crowd="" postgres=false
while [[ ${1:-} == --crowd || ${1:-} == --postgres ]]; do
    if [[ $1 == --postgres ]]; then postgres=true; shift; continue; fi
    [[ ${2:-} == wrk-no-key ]] || { echo "--crowd takes wrk-no-key (see the header of $0)" >&2; exit 2; }
    command -v wrk >/dev/null || { echo "--crowd wrk-no-key needs wrk (Debian's package wrk)" >&2; exit 2; }
    long_sale_crowd=wrk-no-key
    shift 2
done
if $postgres; then
    # A server of its own, in the run's folder and on a port of its own, so the stop at the end stops no one else's
    # (scripts/postgres.sh's default server may be serving a cluster.sh cluster).
    export PGDATA_ROOT="$run_dir/pg" PGPORT="${STEADY_PGPORT:-15542}"
    mkdir -p "$PGDATA_ROOT"
    [[ "$(id -u)" != 0 ]] || chmod 755 "$run_dir"
    "$repo/scripts/postgres.sh" start >/dev/null
    base="$("$repo/scripts/postgres.sh" url)"
    storage_args=(--Storage:Provider=PostgreSql "--Storage:ConnectionString=${base/Database=orleanstickets/Database=steady_$(date +%s)}")
    trap 'cleanup; "$repo/scripts/postgres.sh" stop >/dev/null' EXIT
fi

# shellcheck source=scripts/lib/long-sale.sh
source "$repo/scripts/lib/long-sale.sh"
start_long_sale "$port" "$run_dir" 40 "${storage_args[@]}" "$@"
# CPU seconds (user + system) a process has used so far.
cpu_seconds() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat"; }
# The hypervisor's steal summed over every core (/proc/stat, first line, 9th field): other guests' share of the machine.
steal_seconds() { awk -v hz="$(getconf CLK_TCK)" '$1 == "cpu" { printf "%.2f", $9 / hz; exit }' /proc/stat; }
# Tickets sold so far over every type, from /sales, and when: for the keyless crowd only, whose wrk prints no seconds
# (the load generator's own per-second lines are read otherwise, and its window is left as it was).
sold_now() {
    curl -sf --max-time 2 "http://127.0.0.1:$port/api/events/festival/sales" \
        | python3 -c 'import json, sys, time; print(sum(t["sold"] for t in json.load(sys.stdin)["ticketTypes"]), time.monotonic())'
}
if [[ $long_sale_crowd == wrk-no-key ]]; then
    sleep 16
    sold_16=$(sold_now)
    sleep 6
else
    sleep 22
fi
service_cpu=$(cpu_seconds "$service_pid") load_cpu=$(cpu_seconds "$load_pid") steal=$(steal_seconds)
if command -v perf >/dev/null; then
    perf stat -x, -e syscalls:sys_enter_fsync,syscalls:sys_enter_pwrite64,context-switches -p "$service_pid" -- sleep 5 \
        2>"$run_dir/perf.csv" || true
else
    sleep 5
fi
echo "cores used over those 5 s: service $(echo "$(cpu_seconds "$service_pid") $service_cpu" | awk '{ printf "%.2f", ($1 - $2) / 5 }')," \
    "load generator $(echo "$(cpu_seconds "$load_pid") $load_cpu" | awk '{ printf "%.2f", ($1 - $2) / 5 }')," \
    "machine steal $(echo "$(steal_seconds) $steal" | awk '{ printf "%.2f", ($1 - $2) / 5 }')" >"$run_dir/cpu.txt"
if [[ $long_sale_crowd == wrk-no-key ]]; then
    sleep 3
    sold_30=$(sold_now)
fi
wait "$load_pid" || true

echo "service arguments: ${storage_args[0]} ${*:-(defaults)}"
orders=""
if [[ $long_sale_crowd == wrk-no-key ]]; then
    echo "$sold_16 $sold_30" | awk '{ printf "steady state: %d tickets/s (keyless, wrk; /sales at seconds 16 and 30: %d tickets in %.1f s)\n", ($3 - $1) / ($4 - $2), $3 - $1, $4 - $2 }'
else
    grep -aE '^\[ +(1[6-9]|2[0-9]|30)\.0s\]' "$run_dir/load.txt" \
        | awk '{ sum += $5; n++ } END { if (n) printf "steady state: %d tickets/s (mean of %d one-second samples, seconds 16-30)\n", sum / n, n }'
fi
cat "$run_dir/cpu.txt"
if [[ -s $run_dir/perf.csv ]]; then
    [[ $long_sale_crowd == wrk-no-key ]] || orders=$(grep -aE '^\[ +(22|27)\.0s\]' "$run_dir/load.txt" | awk '{ print $8 }' | paste -sd' ')
    # Per order only with the load generator, whose lines count the orders; wrk's do not.
    awk -F, -v orders="$orders" -v per_order="$([[ $long_sale_crowd == wrk-no-key ]] && echo 0 || echo 1)" '
        BEGIN { split(orders, o, " "); n = o[2] - o[1] }
        /sys_enter|context/ { name = $3; sub("syscalls:sys_enter_", "", name)
            if (per_order) printf "%s: %d in 5 s (%.2f per order)\n", name, $1, (n > 0 ? $1 / n : 0); else printf "%s: %d in 5 s\n", name, $1 }' \
        "$run_dir/perf.csv"
fi
[[ $long_sale_crowd != wrk-no-key ]] || grep -aE 'Requests/sec|Non-2xx|Socket errors' "$run_dir/load.txt" || true
echo "details: $run_dir"
