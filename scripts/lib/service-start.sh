# Sourced by scripts that start a service of their own on a fixed loopback port and then wait for it by asking that
# port. A process already listening there (`dotnet run --project silo` also takes 5080) would answer in its place, and
# the script would sell out and measure the wrong service, so the port must be free first, and the wait ends as soon
# as the script's own process has exited.

# require_free_ports PORT...: exits 2 naming the first port another process listens on.
require_free_ports() {
    local port
    for port in "$@"; do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "port $port on 127.0.0.1 is taken by another process (\`ss -ltnp 'sport = :$port'\` names it): stop it and run again" >&2
            exit 2
        fi
    done
}

# wait_for_service URL PID TRIES LOG: asks URL every 0.5 s, TRIES times, until anything answers (a 404 too: the
# process listens); exits 1 with LOG's tail once PID has exited or the tries are used up. Each ask gives up after 5 s,
# so a process that takes connections and never answers cannot hold the wait.
wait_for_service() {
    local url=$1 pid=$2 tries=$3 log=$4
    for _ in $(seq 1 "$tries"); do
        curl -s -m 5 -o /dev/null "$url" && return 0
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "the service exited before it listened; the end of $log:" >&2
            tail -n 20 "$log" >&2
            exit 1
        fi
        sleep 0.5
    done
    echo "the service did not answer $url within $((tries / 2)) s; the end of $log:" >&2
    tail -n 20 "$log" >&2
    exit 1
}
