#!/usr/bin/env bash
# A local OrleansTickets cluster for operators and experiments: a private PostgreSQL (scripts/postgres.sh), N silos
# (each with the API co-hosted) and M separate API front ends, all on loopback ports. State lives in .cluster/.
#
# usage:
#   scripts/cluster.sh up [SILOS] [FRONTENDS]   build (Release), start PostgreSQL, SILOS silos (default 3), FRONTENDS front ends (default 2)
#                                               (a failure part of the way stops what it started; logs stay)
#   scripts/cluster.sh add-silo                 start one more silo (scale up for the rush), on the first index free
#                                               (never used, or its silo stopped cleanly)
#   scripts/cluster.sh stop-silo N              stop silo N gracefully (SIGTERM) and wait until it has left: its grains move first;
#                                               fails if the stop was not clean (exit code in .cluster/silo-N.exit), or
#                                               if the membership table does not say the silo is Dead
#   scripts/cluster.sh kill-silo N              kill silo N with SIGKILL, like a crash
#   scripts/cluster.sh add-frontend             start one more API front end, on the first index not running
#   scripts/cluster.sh kill-frontend N          kill front end N with SIGKILL
#   scripts/cluster.sh status                   which processes run, and their URLs
#   scripts/cluster.sh down                     stop everything, including PostgreSQL
# Silo N serves http://127.0.0.1:(5080+N) and uses silo port 11111+N, gateway 30000+N; front end N serves 5180+N.
#   CLUSTER_STATE       folder for pids, logs and settings (default <repo>/.cluster)
#   CLUSTER_PORT_SHIFT  added to every port above (default 0): 0, or 200 and more (silos' and front ends' HTTP ports
#                       span 200), so a second cluster can run beside the first, with its own CLUSTER_STATE,
#                       PGDATA_ROOT and PGPORT (as scripts/chaos.sh runs one)
#   CLUSTER_SETTINGS    extra --Key=Value settings for every process (e.g. faster failure detection)
#   PGDATA_ROOT, PGPORT are passed on to scripts/postgres.sh
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
state="${CLUSTER_STATE:-$repo/.cluster}"
shift_by="${CLUSTER_PORT_SHIFT:-0}"
silo_dll="$repo/silo/bin/Release/net10.0/OrleansTickets.Silo.dll"
api_dll="$repo/api/bin/Release/net10.0/OrleansTickets.Api.dll"

die() { echo "cluster.sh: $*" >&2; exit 1; }

((shift_by == 0 || shift_by >= 200)) || die "CLUSTER_PORT_SHIFT must be 0 or at least 200: the first cluster's HTTP ports span 5080-5279"

silo_port() { echo $((5080 + shift_by + $1)); }
frontend_port() { echo $((5180 + shift_by + $1)); }

common_args() {
    local pg
    pg="$(cat "$state/connection-string")"
    echo "--Storage:Provider=PostgreSql" "--Storage:ConnectionString=$pg" "--Cluster:Membership=AdoNet" \
        "--Logging:LogLevel:Default=Warning" ${CLUSTER_SETTINGS:-}
}

# Running, and still one of ours: a pid file outlives a killed process, and its pid may have gone to another since.
running() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null && grep -qa OrleansTickets "/proc/$(cat "$1")/cmdline" 2>/dev/null; }

# A silo opens its port only after its on-sale rehearsal (silo/Rehearsal), which takes 15-27 s on 2 cores, and a
# busy machine mid-sale or a database that is slow to answer can stretch its start to minutes: up to 5 minutes are
# given, and a process that ended is reported at once rather than waited for. Up means that the process's readiness
# answers 200 (a silo's web server starts after it joined the cluster) and the process still runs: any answer on the
# port, as before, took another process's for the new one's, which then failed to bind.
wait_for_ready() {
    local port=$1 pid_file=$2
    # A deadline, not a count of tries: each try may wait 5 s on a port that accepts but does not answer.
    local deadline=$((SECONDS + 300))
    while ((SECONDS < deadline)); do
        # Bounded: a frozen process's port still completes the TCP handshake, and curl would wait for its answer forever.
        curl -fs -m 5 -o /dev/null "http://127.0.0.1:$port/health/ready" && running "$pid_file" && return 0
        running "$pid_file" || return 1
        sleep 0.5
    done
    return 1
}

# Refuses a port something already answers on: the new process would fail to bind it.
port_free() { ! curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$1/"; }

# Ends a process that did not become ready in time, so that a start reported failed does not join the cluster later
# (an operator would then start another): SIGTERM, and the silo's stop budget to end.
give_up_on() {
    local name=$1 started=$SECONDS
    running "$state/$name.pid" || return 0
    kill -TERM "$(cat "$state/$name.pid")" 2>/dev/null || return 0
    until [[ -f "$state/$name.exit" ]] || ((SECONDS - started >= 170)); do sleep 0.5; done
    running "$state/$name.pid" && kill -KILL "$(cat "$state/$name.pid")" 2>/dev/null || true
}

# Starts `dotnet DLL ARGS...` in the background as NAME: its output goes to NAME.log, its pid to NAME.pid, and its exit
# code to NAME.exit when it ends. A shell that waits for the process writes the exit code, since this script's later
# runs are not its parent; that shell's own output goes nowhere, so `$(cluster.sh ...)` does not wait for the process.
launch() {
    local name=$1 signs=$2; shift 2
    rm -f "$state/$name.pid" "$state/$name.exit"
    # When this process began, so that its membership rows can be told from an earlier silo's on the same port.
    date +%s >"$state/$name.launched"
    (
        # The signing key reaches silos through their environment, which only their user can read: on the command line
        # it would be in every process listing, and whoever reads it can mint tickets. Front ends never sign.
        if [[ $signs == signs ]]; then
            Tickets__SigningKey="$(cat "$state/signing-key")"
            export Tickets__SigningKey
        fi
        dotnet "$@" >"$state/$name.log" 2>&1 &
        pid=$!
        echo "$pid" >"$state/$name.pid.new" && mv "$state/$name.pid.new" "$state/$name.pid"
        code=0
        wait "$pid" || code=$?
        echo "$code" >"$state/$name.exit"
    ) </dev/null >/dev/null 2>&1 &
    for _ in $(seq 1 100); do [[ -f "$state/$name.pid" ]] && rm -f "$state/$name.reserved" && return 0; sleep 0.1; done
    rm -f "$state/$name.reserved"
    die "$name did not start"
}

# What the membership table last says of silo N, by its silo port (its newest generation): 6 (Dead) is written as a
# silo's last step of leaving; "none" when the table has no row for it. Empty when the table cannot be read; asked up to
# 20 times, each within 5 s (a server that accepts connections and answers nothing must not hold the stop), so for at
# most about 2 minutes, since a database restarting is what would leave the status unwritten in the first place.
membership_status() {
    local port=$((11111 + shift_by + $1)) database status launched
    database="$(sed -n 's/.*Database=\([^;]*\).*/\1/p' "$state/connection-string")"
    # Only this process's rows: a silo stopped before it joined has none, and an earlier silo with the same index left a
    # Dead row on the same port, which would read as this one's clean leave. (The silo writes its start from this host's
    # clock too; the slack is for the launch time's whole seconds.)
    launched="$(cat "$state/silo-$1.launched" 2>/dev/null || echo 0)"
    for _ in $(seq 1 20); do
        status="$(PGCONNECT_TIMEOUT=3 timeout 5 "$repo/scripts/postgres.sh" psql -tA -d "$database" \
            -c "SELECT coalesce((SELECT Status FROM OrleansMembershipTable WHERE Port = $port AND StartTime >= to_timestamp($launched) - interval '2 seconds' ORDER BY Generation DESC LIMIT 1)::text, 'none')" \
            2>/dev/null)" && { echo "$status"; return 0; }
        sleep 0.5
    done
}

# A silo's stop: SIGTERM, then a wait for the process to end. A silo takes up to 90 s to stop, plus Api:Shutdown:Drain
# (at most 60 s). Its exit code says whether the stop was clean (api/Hosting/StoppableRun.cs: 1 when the stop failed or
# used its whole budget, so the silo may have left without handing its grains over). Exit code 0 is not the whole
# answer: Orleans logs a failed membership update during the stop and goes on, so a silo can end cleanly while the
# table still counts it (Active, or ShuttingDown), and the others go on calling it until their probes declare it dead.
# So the table must say Dead (6) too. Scaling down is done when this returns, so an operator's script can take the
# machine away after it.
stop_silo() {
    local n=$1 exit_file="$state/silo-$1.exit" started=$SECONDS code status
    signal silo "$n" TERM
    until [[ -f $exit_file ]]; do
        ((SECONDS - started < 170)) || die "silo $n has not ended after 170 s; see $state/silo-$n.log (kill-silo $n ends it as a crash)"
        sleep 0.2
    done
    code="$(cat "$exit_file")"
    [[ $code == 0 ]] || die "silo $n ended after $((SECONDS - started)) s with exit code $code: its stop was not clean; see $state/silo-$n.log"
    status="$(membership_status "$n")"
    [[ $status == 6 ]] || die "silo $n ended after $((SECONDS - started)) s with exit code 0, but the membership table says status '${status:-unreadable}', not 6 (Dead): the cluster still counts it until its probes declare it dead; see $state/silo-$n.log"
    echo "silo $n left the cluster cleanly after $((SECONDS - started)) s (exit code 0, Dead in the membership table)"
}

# Starts process NAME (kind-n), called LABEL in messages, listening on PORT: `dotnet DLL ARGS...` with the common
# settings, reported up once ready, or stopped and reported failed.
start_process() {
    local name=$1 label=$2 port=$3 dll=$4 signs=$5; shift 5
    port_free "$port" || { rm -f "$state/$name.reserved"; die "port $port ($label) is taken by another process"; }
    # shellcheck disable=SC2046 # the arguments are words on purpose
    launch "$name" "$signs" "$dll" $(common_args) --urls "http://127.0.0.1:$port" "$@"
    wait_for_ready "$port" "$state/$name.pid" || { give_up_on "$name"; die "$label did not start (it was stopped if it still ran); see $state/$name.log"; }
    echo "$label up: http://127.0.0.1:$port (pid $(cat "$state/$name.pid"))"
}

start_silo() {
    local n=$1
    start_process "silo-$n" "silo $n" "$(silo_port "$n")" "$silo_dll" signs \
        --Cluster:SiloPort=$((11111 + shift_by + n)) --Cluster:GatewayPort=$((30000 + shift_by + n))
}

start_frontend() { start_process "frontend-$1" "front end $1" "$(frontend_port "$1")" "$api_dll" -; }

# Whether index NAME (kind-n) is free: never used, or used by a process that ended cleanly (exit code 0: a silo scaled
# down with stop-silo, its grains moved first). One that crashed keeps its index: its membership row may say Active
# until the cluster declares it dead, and a new silo on its address would be taken for its restart. Reused, so that
# scaling up for each rush and down after it does not walk the ports up by one every time: at index 100 a silo's HTTP
# port would be front end 0's (5180).
# A front end has no membership row, so any front end that ended frees its index.
index_free() {
    local name=$1
    [[ -f "$state/$name.reserved" ]] && return 1
    [[ -f "$state/$name.pid" ]] || return 0
    running "$state/$name.pid" && return 1
    [[ $name == frontend-* || "$(cat "$state/$name.exit" 2>/dev/null)" == 0 ]]
}

# The first free index of KIND, reserved under a lock until its process's pid file is written: add-silos run at once
# (scaling up for the rush) each get their own index, and so their own ports. Before, they all picked the first free
# one, one process won the ports, and every run reported it "up". A reused index's old pid and exit files go, so that
# the waits below see only the new process.
next_index() {
    local kind=$1
    (
        flock 9
        n=0
        until index_free "$kind-$n"; do n=$((n + 1)); done
        ((n < 100)) || die "no free $kind index below 100: the ports from there on are another kind's"
        rm -f "$state/$kind-$n.pid" "$state/$kind-$n.exit"
        : >"$state/$kind-$n.reserved"
        echo "$n"
    ) 9>"$state/index.lock"
}

# Stops every process and then PostgreSQL, unless called with keep-postgres (down, and an up that failed part of the way).
stop_all() {
    # Every process first gets SIGTERM and its time to stop (a silo hands its grains over, which needs PostgreSQL,
    # for up to 90 s, after Api:Shutdown:Drain's wait of up to 60 s); only then is PostgreSQL stopped. A pid file of a process that already ended is not used to
    # signal (see running).
    local stopping=() file pid
    for file in "$state"/*.pid; do
        [[ -e "$file" ]] || continue
        if running "$file"; then
            pid="$(cat "$file")"
            kill "$pid" 2>/dev/null && stopping+=("$pid")
        fi
    done
    for pid in "${stopping[@]}"; do
        for _ in $(seq 1 160); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
        # Only a process still ours: one that ended may have given its pid to another while the others were waited for.
        if kill -0 "$pid" 2>/dev/null && grep -qa OrleansTickets "/proc/$pid/cmdline" 2>/dev/null; then kill -9 "$pid" 2>/dev/null || true; fi
    done
    # Only now: a stop cut short (a second Ctrl-C during the waits) leaves the pid files for the next down to find.
    rm -f "$state"/*.pid "$state"/*.exit "$state"/*.reserved
    [[ ${1:-} == keep-postgres ]] || "$repo/scripts/postgres.sh" stop >/dev/null || true
    echo "cluster stopped"
}

# An up that failed part of the way (a silo that did not start, a port taken) stops what it had started: left running,
# those processes made the next up refuse ("a cluster runs") until an operator ran down. Their logs stay in the state
# folder. PostgreSQL is stopped only when this up started it.
undo_failed_up() {
    local code=$?
    ((code == 0)) && return 0
    echo "cluster.sh: up failed; stopping what it started (logs stay in $state)" >&2
    if [[ $postgres_was_running == true ]]; then stop_all keep-postgres >&2; else stop_all >&2; fi
    exit "$code"
}

signal() {
    local file="$state/$1-$2.pid" sig=$3
    running "$file" || die "$1 $2 is not running"
    kill "-$sig" "$(cat "$file")"
    echo "$1 $2: sent SIG$sig"
}

case "${1:-}" in
    up)
        silos=${2:-3} frontends=${3:-2}
        mkdir -p "$state"
        # A second `up` over a running cluster would start new processes on its indices, which fail to bind, and lose
        # the running ones' pid files, so that `down` would stop PostgreSQL under them.
        for file in "$state"/*.pid; do
            [[ -e "$file" ]] && running "$file" && die "a cluster runs in $state ($(basename "$file" .pid) is up): add-silo and add-frontend grow it, down stops it"
        done
        postgres_was_running=false
        "$repo/scripts/postgres.sh" status >/dev/null 2>&1 && postgres_was_running=true
        trap undo_failed_up EXIT
        dotnet build -c Release "$repo/silo" -v quiet -nologo >/dev/null
        dotnet build -c Release "$repo/api" -v quiet -nologo >/dev/null
        "$repo/scripts/postgres.sh" start >/dev/null
        base="$("$repo/scripts/postgres.sh" url)"
        echo "${base/Database=orleanstickets/Database=cluster}" >"$state/connection-string"
        [[ -f "$state/signing-key" ]] || (umask 077; head -c 32 /dev/urandom | base64 >"$state/signing-key")
        # Silos first: they create the membership schema that front ends read.
        for ((i = 0; i < silos; i++)); do start_silo "$i"; done
        for ((i = 0; i < frontends; i++)); do start_frontend "$i"; done
        trap - EXIT
        ;;
    # Assigned first: a failed substitution in a command's arguments would not stop the script.
    add-silo) n="$(next_index silo)"; start_silo "$n" ;;
    add-frontend) n="$(next_index frontend)"; start_frontend "$n" ;;
    stop-silo) stop_silo "${2:?silo number}" ;;
    kill-silo) signal silo "${2:?silo number}" KILL ;;
    kill-frontend) signal frontend "${2:?front end number}" KILL ;;
    status)
        for file in "$state"/*.pid; do
            [[ -e "$file" ]] || { echo "no cluster state in $state"; exit 0; }
            name="$(basename "$file" .pid)"
            if running "$file"; then
                n="${name##*-}"
                if [[ $name == silo-* ]]; then url="http://127.0.0.1:$(silo_port "$n")"; else url="http://127.0.0.1:$(frontend_port "$n")"; fi
                echo "$name: running (pid $(cat "$file")), $url"
            elif [[ -f "$state/$name.exit" ]]; then
                echo "$name: stopped (exit code $(cat "$state/$name.exit"))"
            else
                echo "$name: stopped"
            fi
        done
        ;;
    down) stop_all ;;
    *) sed -n '2,24p' "$0"; exit 2 ;;
esac
