#!/usr/bin/env bash
# Chaos on-sale, one command, a few minutes: a private PostgreSQL, 3 silos and 2 API front ends (scripts/cluster.sh),
# a crowd of buyers spread over all five, and during the sale:
#   kill -9 a silo; cut one shard database off and bring it back; add a silo; drain a shard and add tickets (the
#   operators' escrow transfers, under fire); kill -9 a front end; restart PostgreSQL as after a crash; stop a silo
#   gracefully (scaling back down).
# Then an audit from the databases themselves (load generator --mode audit): per shard sold <= capacity and
# sold = ticket rows; serials and codes unique across databases; every acknowledged order stored; totals equal
# /sales; nothing left unsold; every transfer settled; the back office's export equal to the databases (every stored
# order once, with its tickets, and nothing else); and the operator's addition (retried with one Idempotency-Key
# while answers are unclear) counted exactly once in VIP's capacity. Prints the faults injected and the checks.
#
# usage: scripts/chaos.sh [--tickets N] [--buyers N] [--keep]
#   --tickets N  tickets on sale (default 60000), 80% general admission over 64 shards, 20% VIP over 16
#   --buyers N   concurrent buyers (default 128)
#   --keep       leave the cluster running afterwards (stop it with: CLUSTER_STATE=.chaos/cluster ... cluster.sh down;
#                PGDATA_ROOT is .chaos/pg, or the folder named in .chaos/pg-root when there is one)
# Everything lives in .chaos/ on ports shifted by 1000 from scripts/cluster.sh's, so a dev cluster can keep running.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib/operator.sh
source "$repo/scripts/lib/operator.sh"
work="$repo/.chaos"
tickets=60000 buyers=128 keep=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --tickets) tickets=$2; shift 2 ;;
        --buyers) buyers=$2; shift 2 ;;
        --keep) keep=1; shift ;;
        *) sed -n '2,17p' "$0"; exit 2 ;;
    esac
done
# 64 + 16 shards need tickets to hold, and the schedule below a sale of many rounds of orders: each buyer's pause sets
# the sale's length (below), and a crowd that buys everything in a few rounds would be done before the faults.
[[ $tickets =~ ^[1-9][0-9]*$ && $tickets -ge 1000 ]] || { echo "chaos: --tickets must be a whole number, 1000 or more" >&2; exit 2; }
[[ $buyers =~ ^[1-9][0-9]*$ ]] || { echo "chaos: --buyers must be a whole number, 1 or more" >&2; exit 2; }
(( buyers * 25 <= tickets + 1000 )) || { echo "chaos: at most one buyer per 25 tickets, counting the 1,000 the run adds (at least 10 orders each)" >&2; exit 2; }

export CLUSTER_STATE="$work/cluster" PGDATA_ROOT="$work/pg" PGPORT="${CHAOS_PGPORT:-15632}" CLUSTER_PORT_SHIFT=1000
# A crashed silo is declared dead in seconds, not Orleans' default 15-60 s. No on-sale rehearsal (silo/Rehearsal):
# on 2 cores shared with the sale, the silo added mid-run would still be rehearsing when the sale ends, and the
# faults are about joining and leaving, not about warm code.
export CLUSTER_SETTINGS="--Cluster:Liveness:ProbeTimeout=00:00:01 --Cluster:Liveness:NumMissedProbesLimit=1 --Cluster:Liveness:NumVotesForDeathDeclaration=1 --Rehearsal:Enabled=false"
cluster() { "$repo/scripts/cluster.sh" "$@"; }
postgres() { "$repo/scripts/postgres.sh" "$@"; }
loadgen="$repo/tests/OrleansTickets.LoadGenerator/bin/Release/net10.0/OrleansTickets.LoadGenerator.dll"
silo_url() { echo "http://127.0.0.1:$((6080 + $1))"; }
frontend_url() { echo "http://127.0.0.1:$((6180 + $1))"; }

loadgen_pid="" add_silo_pid_file="$work/add-silo.pid"
cleanup() {
    # An interrupted run must not leave its crowd buying: the next run reuses the ports, the event id and the orders file.
    if [[ -n $loadgen_pid ]]; then kill "$loadgen_pid" 2>/dev/null || true; fi
    if [[ -f $add_silo_pid_file ]]; then kill "$(cat "$add_silo_pid_file")" 2>/dev/null || true; fi
    [[ $keep == 1 ]] || cluster down >/dev/null 2>&1 || true
    [[ $keep == 1 || $PGDATA_ROOT == "$work/pg" ]] || rm -rf "$PGDATA_ROOT"
}
trap cleanup EXIT

# A run left with --keep may have put its server's files in /tmp (below): that server is the one to stop.
if [[ -s $work/pg-root ]]; then
    old_root="$(cat "$work/pg-root")"
    PGDATA_ROOT="$old_root" cluster down >/dev/null 2>&1 || true
    [[ $old_root != /tmp/orleanstickets-chaos-pg.* ]] || rm -rf "$old_root"
fi
cluster down >/dev/null 2>&1 || true
rm -rf "$work"
mkdir -p "$work"
chmod 755 "$work"
# As root, the server runs as the postgres user, who must be able to reach its folder. A clone under a folder only root
# may enter (/root, a mktemp -d) keeps that user out, and initdb would fail: the server's files then go to a folder of
# their own in /tmp, named in .chaos/pg-root for cluster.sh down after --keep.
if [[ "$(id -u)" == 0 ]] && ! runuser -u postgres -- test -x "$work"; then
    PGDATA_ROOT="$(mktemp -d /tmp/orleanstickets-chaos-pg.XXXXXX)"
    chmod 755 "$PGDATA_ROOT"
    echo "$PGDATA_ROOT" >"$work/pg-root"
    echo "== the postgres user cannot enter $work: PostgreSQL's files are in $PGDATA_ROOT"
fi
dotnet build -c Release "$repo/tests/OrleansTickets.LoadGenerator" -v quiet -nologo >/dev/null
cluster up 3 2

vip=$((tickets / 5)) ga=$((tickets - tickets / 5))
event=$(cat <<JSON
{ "id": "chaos", "name": "Chaos on-sale", "ticketTypes": [
  { "id": "ga",  "name": "General admission", "price": 99.00,  "currency": "EUR", "capacity": $ga,  "shards": 64, "maxPerOrder": 4 },
  { "id": "vip", "name": "VIP",               "price": 299.00, "currency": "EUR", "capacity": $vip, "shards": 16, "maxPerOrder": 4 } ] }
JSON
)
# Calls that are safe to repeat (creating the same event again answers 200, a drain goes on where it stopped, an
# addition carries one Idempotency-Key): an unclear answer (none, a 5xx) is asked again, up to 10 times a second
# apart, as an operator would. Prints the last answer, then how many attempts it took.
ask_until_clear() {
    local answer attempt
    for attempt in 1 2 3 4 5 6 7 8 9 10; do
        answer=$(curl -s -m 35 "$@" -w ' (HTTP %{http_code})')
        [[ $answer =~ \(HTTP\ (000|5[0-9][0-9])\)$ ]] || break
        sleep 1
    done
    echo "$answer, attempt $attempt"
}
# Set-up calls to a cluster that has just formed; anything but success stops the run with the answer shown.
setup_call() {
    local answer
    answer=$(ask_until_clear "$@")
    [[ $answer =~ \(HTTP\ 20[01]\),\ attempt\ [0-9]+$ ]] || { echo "chaos: set-up call failed: ${answer: -400}" >&2; exit 1; }
}
setup_call "${operator_auth[@]}" -X POST "$(silo_url 0)/api/events" -H 'Content-Type: application/json' -d "$event"
# Doors open: one sales read activates every shard before the crowd arrives.
setup_call "$(silo_url 0)/api/events/chaos/sales"

urls="$(silo_url 0),$(silo_url 1),$(silo_url 2),$(frontend_url 0),$(frontend_url 1)"
# Offered: what the event was created with, plus the VIP tickets the operator adds during the sale (below); the sale's
# check and the audit from the databases both compare the capacity with it.
offered=(--offered "ga=$ga,vip=$vip" --added vip=1000)
# Each buyer pauses after each order, so the sale cannot end before the faults' schedule: its sleeps add up to 17 s, and
# its steps take time of their own (the last fault fired 33 to 41 s in on the ninety-first session's slow machine, a
# PostgreSQL restart taking about 6 of them). The pause is set so that the buyers need about 48 s for all the tickets,
# orders being 2.5 tickets on average (1 to 4), and each buyer's first order coming without a pause. The default 128
# buyers and 61,000 tickets give 253 ms, at most 506 orders a second however fast the machine. Without a pause a fast
# machine sold out in 21 s and the last fault was skipped, which fails the run; with a fixed 150 ms a smaller sale
# (--tickets 6000) was over after 3 s. The load generator says when its buyers stopped (--buying-ended-file): it lives
# on for a while after, asking about unanswered orders and checking the sale, and a fault fired then met no buyer.
orders=$(( (tickets + 1000) * 2 / 5 ))
think_ms=$(( 48000 * buyers / (orders - buyers) ))
rm -f "$work/buying-ended"
dotnet "$loadgen" --url "$urls" --event chaos --connections "$buyers" --think-time "$think_ms" --timeout 900 "${offered[@]}" \
    --orders-file "$work/orders.json" --summary-json "$work/summary.json" --buying-ended-file "$work/buying-ended" >"$work/loadgen.log" 2>&1 &
loadgen_pid=$!
started_us=${EPOCHREALTIME/./}

faults=() failed_faults=0 skipped_faults=0
# Seconds since the sale started, to a tenth, from bash's own clock (no bc on a bare machine).
elapsed() { local tenths=$(( (${EPOCHREALTIME/./} - started_us) / 100000 )); echo "$((tenths / 10)).$((tenths % 10))"; }
record() { faults+=("$(printf '%6s s  %-36s %s' "$(elapsed)" "$1" "$2")"); echo "chaos: $1: $2"; }
sale_running() { kill -0 "$loadgen_pid" 2>/dev/null && [[ ! -e $work/buying-ended ]]; }
# Each fault waits its turn, then fires only while the sale still runs, so the table says what really happened. A fault
# that failed, or came after the sale, fails the run: the verdict must not claim chaos that did not happen.
at() {
    local delay=$1 name=$2 out status=0; shift 2
    sleep "$delay"
    if ! sale_running; then
        record "$name" "SKIPPED: the sale was over"
        skipped_faults=$((skipped_faults + 1))
        return
    fi
    out=$("$@" 2>&1) || status=$?
    out=$(tail -1 <<<"$out")
    if [[ $status == 0 ]]; then
        record "$name" "$out"
    else
        record "$name" "FAILED (exit $status): $out"
        failed_faults=$((failed_faults + 1))
    fi
}
shard_db="$(sed -n 's/.*Database=\([^;]*\).*/\1/p' "$CLUSTER_STATE/connection-string")_shard_0001"
cut_off() {
    postgres psql -c "ALTER DATABASE \"$shard_db\" ALLOW_CONNECTIONS false" \
        -c "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '$shard_db'" >/dev/null
    echo "$shard_db refuses connections"
}
reconnect() { postgres psql -c "ALTER DATABASE \"$shard_db\" ALLOW_CONNECTIONS true" >/dev/null; echo "$shard_db accepts connections"; }
# A silo takes seconds to start; the schedule goes on meanwhile. Whether it came up, and whether the sale was still on
# then (a silo that joins an ended sale takes no shard from it), is checked after the sale (below).
add_silo() {
    (
        cluster add-silo >"$work/add-silo.log" 2>&1 || exit 0
        if sale_running; then echo "up during the sale, $(elapsed) s in"; else echo "up only after the sale had ended"; fi >"$work/add-silo.when"
    ) >/dev/null 2>&1 &  # nothing of it on the schedule's output, or `at` would wait for the whole start
    echo $! >"$add_silo_pid_file"
    echo "silo 3 starting (pid $!)"
}
# A drain: an unclear answer (the shard's silo just died, say) is asked again (ask_until_clear).
post() {
    local answer
    answer=$(ask_until_clear "${operator_auth[@]}" -X POST "$(silo_url 0)$1" -H 'Content-Type: application/json' -d "$2")
    echo "$answer"
    [[ $answer =~ \(HTTP\ 200\),\ attempt\ [0-9]+$ ]]
}
# An operator adding tickets in the middle of the faults: an unclear answer (no answer, a 5xx) is retried with the
# same Idempotency-Key, so the tickets are added exactly once however many attempts it takes (checked at the end).
add_vip() {
    local answer
    answer=$(ask_until_clear "${operator_auth[@]}" -X POST "$(silo_url 0)/api/events/chaos/ticket-types/vip/capacity" \
        -H 'Content-Type: application/json' -H 'Idempotency-Key: chaos-add-vip' -d '{"quantity":1000}')
    echo "$answer"
    [[ $answer =~ \(HTTP\ 20[012]\),\ attempt\ [0-9]+$ ]]
}

at 2 "kill -9 silo 2" cluster kill-silo 2
at 2 "shard database unreachable" cut_off
at 3 "shard database reachable again" reconnect
at 1 "add a silo" add_silo
at 2 "drain shard ga/3" post /api/events/chaos/ticket-types/ga/shards/3/drain ''
at 1 "add 1000 VIP tickets" add_vip
at 2 "kill -9 API front end 1" cluster kill-frontend 1
at 2 "restart PostgreSQL (immediate)" postgres restart immediate
at 2 "stop silo 1 gracefully (scale down)" cluster stop-silo 1

sale=0
wait "$loadgen_pid" || sale=$?
loadgen_pid=""
if [[ -s $work/buying-ended ]]; then
    ended_tenths=$(( ($(<"$work/buying-ended") - started_us) / 100000 ))
    faults+=("$(printf '%6s s  %-36s %s' "$((ended_tenths / 10)).$((ended_tenths % 10))" "the buyers stopped" "the load generator then checks the sale")")
fi

# The silo added for the rush must have joined: its start runs in the background while the schedule goes on.
if [[ -f $add_silo_pid_file ]]; then
    while kill -0 "$(cat "$add_silo_pid_file")" 2>/dev/null; do sleep 1; done
    rm -f "$add_silo_pid_file"
fi
if [[ $skipped_faults == 0 ]] && ! grep -q '^silo 3 up' "$work/add-silo.log"; then
    record "add a silo" "FAILED: silo 3 did not start: $(tail -1 "$work/add-silo.log")"
    failed_faults=$((failed_faults + 1))
elif [[ $skipped_faults == 0 ]] && ! grep -q '^up during the sale' "$work/add-silo.when" 2>/dev/null; then
    record "add a silo" "FAILED: silo 3 came $(cat "$work/add-silo.when" 2>/dev/null || echo "up at an unknown time")"
    failed_faults=$((failed_faults + 1))
elif [[ $skipped_faults == 0 ]]; then
    record "silo 3 joined" "$(cat "$work/add-silo.when")"
fi
sed -n '/^tickets sold/,$p' "$work/loadgen.log" | sed -n '1,60p'

echo
echo "audit from the databases:"
alive="$(silo_url 0),$(silo_url 3),$(frontend_url 0),$(silo_url 1)"
audit=0
dotnet "$loadgen" --mode audit --url "$alive" --event chaos --orders-file "$work/orders.json" "${offered[@]}" \
    --postgres "$(cat "$CLUSTER_STATE/connection-string")" || audit=$?

# The operator's addition landed exactly once: VIP holds its original tickets plus 1000, not more.
vip_capacity=$(curl -s "$(silo_url 0)/api/events/chaos/sales" \
    | python3 -c 'import json,sys; print(next(t["capacity"] for t in json.load(sys.stdin)["ticketTypes"] if t["id"] == "vip"))' || echo "?")
added=0
[[ $vip_capacity == $((vip + 1000)) ]] || added=1
echo "VIP capacity after the addition: $vip_capacity (expected $((vip + 1000)))"

echo
echo "faults injected ($tickets tickets + 1000 added, $buyers buyers):"
printf '  %s\n' "${faults[@]}"
echo "sale: exit $sale; audit: exit $audit; capacity added once: exit $added; faults failed: $failed_faults, skipped: $skipped_faults"
[[ $sale == 0 && $audit == 0 && $added == 0 && $failed_faults == 0 && $skipped_faults == 0 ]]
