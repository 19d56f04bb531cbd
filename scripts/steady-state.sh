#!/usr/bin/env bash
# The steady-state probe behind the A/B tables in docs/benchmarks.md. A sold-out festival run is mostly JIT warm-up
# on two cores, and run-to-run noise hides a 20% change; this measures the middle of a long sale instead.
#
# It starts the service (SQLite, Release) with the given configuration arguments, creates the festival at 10x
# capacity so it cannot sell out in time, and runs the load generator for 40 s. It prints the mean tickets/s over
# seconds 16-30 and, when perf is installed, the service's syscall counts over 5 s from second 22:
# fsyncs, page writes and context switches per order are what the storage settings change.
#
# usage: scripts/steady-state.sh [--postgres] [service configuration arguments...]
#   e.g. scripts/steady-state.sh --Storage:CommitGatherMilliseconds=0
#   --postgres  shard databases on a private PostgreSQL (scripts/postgres.sh) instead of SQLite files
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
if [[ ${1:-} == --postgres ]]; then
    shift
    "$repo/scripts/postgres.sh" start >/dev/null
    base="$("$repo/scripts/postgres.sh" url)"
    storage_args=(--Storage:Provider=PostgreSql "--Storage:ConnectionString=${base/Database=orleanstickets/Database=steady_$(date +%s)}")
    trap 'cleanup; "$repo/scripts/postgres.sh" stop >/dev/null' EXIT
fi

dotnet build -c Release silo -v quiet -nologo >/dev/null
dotnet build -c Release tests/OrleansTickets.LoadGenerator -v quiet -nologo >/dev/null

# No on-sale rehearsal (silo/Rehearsal): by second 16 of a long sale the code is warm either way, and without it the
# probe starts as quickly as in earlier sessions. Pass --Rehearsal:Enabled=true to have it anyway.
dotnet silo/bin/Release/net10.0/OrleansTickets.Silo.dll --urls "http://127.0.0.1:$port" "${storage_args[@]}" \
    --Logging:LogLevel:Default=Warning --Rehearsal:Enabled=false "$@" >"$run_dir/service.log" 2>&1 &
service_pid=$!
pids+=("$service_pid")
for _ in $(seq 1 120); do curl -s -o /dev/null "http://127.0.0.1:$port/api/events/readiness" && break; sleep 0.5; done

python3 -c '
import json
event = json.load(open("scripts/bench/festival.json"))
for t in event["ticketTypes"]: t["capacity"] *= 10
print(json.dumps(event))' >"$run_dir/festival.json"
curl -sf -o /dev/null -X POST "http://127.0.0.1:$port/api/events" -H 'Content-Type: application/json' --data @"$run_dir/festival.json"
curl -sf -o /dev/null "http://127.0.0.1:$port/api/events/festival/sales"

# The load generator exits with "could not finish" at its timeout; that is the point here.
dotnet tests/OrleansTickets.LoadGenerator/bin/Release/net10.0/OrleansTickets.LoadGenerator.dll \
    --url "http://127.0.0.1:$port" --event festival --connections 256 --timeout 40 >"$run_dir/load.txt" 2>&1 &
load_pid=$!
pids+=("$load_pid")
# CPU seconds (user + system) a process has used so far.
cpu_seconds() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat"; }
sleep 22
service_cpu=$(cpu_seconds "$service_pid") load_cpu=$(cpu_seconds "$load_pid")
if command -v perf >/dev/null; then
    perf stat -x, -e syscalls:sys_enter_fsync,syscalls:sys_enter_pwrite64,context-switches -p "$service_pid" -- sleep 5 \
        2>"$run_dir/perf.csv" || true
else
    sleep 5
fi
echo "cores used over those 5 s: service $(echo "$(cpu_seconds "$service_pid") $service_cpu" | awk '{ printf "%.2f", ($1 - $2) / 5 }')," \
    "load generator $(echo "$(cpu_seconds "$load_pid") $load_cpu" | awk '{ printf "%.2f", ($1 - $2) / 5 }')" >"$run_dir/cpu.txt"
wait "$load_pid" || true

echo "service arguments: ${storage_args[0]} ${*:-(defaults)}"
grep -aE '^\[ +(1[6-9]|2[0-9]|30)\.0s\]' "$run_dir/load.txt" \
    | awk '{ sum += $5; n++ } END { if (n) printf "steady state: %d tickets/s (mean of %d one-second samples, seconds 16-30)\n", sum / n, n }'
cat "$run_dir/cpu.txt"
if [[ -s $run_dir/perf.csv ]]; then
    orders=$(grep -aE '^\[ +(22|27)\.0s\]' "$run_dir/load.txt" | awk '{ print $8 }' | paste -sd' ')
    awk -F, -v orders="$orders" 'BEGIN { split(orders, o, " "); n = o[2] - o[1] }
        /sys_enter|context/ { name = $3; sub("syscalls:sys_enter_", "", name); printf "%s: %d in 5 s (%.2f per order)\n", name, $1, (n > 0 ? $1 / n : 0) }' \
        "$run_dir/perf.csv"
fi
echo "details: $run_dir"
