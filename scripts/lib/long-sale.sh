# Sourced by steady-state.sh and wal-frames.sh: builds the service and the load generator in Release, starts the
# service without the on-sale rehearsal (by second 16 of a long sale the code is warm either way, and the probe
# starts sooner), creates the festival at 10x capacity so it cannot sell out in time, opens the doors, and starts
# 256 buyers. The caller defines pids (an array) and a cleanup trap; this sets service_pid and load_pid.
#
# start_long_sale PORT RUN_DIR LOAD_TIMEOUT_S [service configuration arguments...]
#   later arguments win, so a caller's --Rehearsal:Enabled=true turns the rehearsal back on
#   long_sale_crowd=wrk-no-key (a shell variable the caller sets): wrk (scripts/wrk/orders-no-key.lua, 256
#   connections) buys GA without Idempotency-Keys instead of the load generator's keyed buyers
# shellcheck source=scripts/lib/operator.sh
source "$(dirname "${BASH_SOURCE[0]}")/operator.sh"
# shellcheck source=scripts/lib/service-start.sh
source "$(dirname "${BASH_SOURCE[0]}")/service-start.sh"

start_long_sale() {
    local port="$1" run_dir="$2" timeout="$3"
    shift 3
    dotnet build -c Release silo -v quiet -nologo >/dev/null
    dotnet build -c Release tests/OrleansTickets.LoadGenerator -v quiet -nologo >/dev/null
    require_free_ports "$port"
    dotnet silo/bin/Release/net10.0/OrleansTickets.Silo.dll --urls "http://127.0.0.1:$port" \
        --Logging:LogLevel:Default=Warning --Rehearsal:Enabled=false "$@" >"$run_dir/service.log" 2>&1 &
    service_pid=$!
    pids+=("$service_pid")
    wait_for_service "http://127.0.0.1:$port/api/events/readiness" "$service_pid" 120 "$run_dir/service.log"

    python3 -c '
import json
event = json.load(open("scripts/bench/festival.json"))
for t in event["ticketTypes"]: t["capacity"] *= 10
print(json.dumps(event))' >"$run_dir/festival.json"
    curl -sf -o /dev/null "${operator_auth[@]}" -X POST "http://127.0.0.1:$port/api/events" -H 'Content-Type: application/json' --data @"$run_dir/festival.json"
    curl -sf -o /dev/null "http://127.0.0.1:$port/api/events/festival/sales"

    if [[ ${long_sale_crowd:-} == wrk-no-key ]]; then
        # GA alone: at 10x it holds 1M tickets, which keyless orders do not sell out in the probe's time.
        wrk -t2 -c256 -d"${timeout}s" --timeout 40s -s scripts/wrk/orders-no-key.lua "http://127.0.0.1:$port" -- ga \
            >"$run_dir/load.txt" 2>&1 &
    else
        # The load generator exits with "could not finish" at its timeout; that is the point here.
        dotnet tests/OrleansTickets.LoadGenerator/bin/Release/net10.0/OrleansTickets.LoadGenerator.dll \
            --url "http://127.0.0.1:$port" --event festival --connections 256 --timeout "$timeout" >"$run_dir/load.txt" 2>&1 &
    fi
    load_pid=$!
    pids+=("$load_pid")
}
