#!/usr/bin/env bash
# Summarises a perf CPU profile of the service (scripts/bench.sh --perf): the share of its samples by thread kind
# (thread-pool workers run HTTP, grains and Orleans messaging; the "Long Running" threads are the SQLite writers),
# by layer (Kestrel, Orleans, SQLite, the kernel, ...), and the 30 frames with the most samples of their own.
# .NET frame names come from the perf map the service wrote (DOTNET_PerfMapEnabled=1) and are shortened to
# namespace, type and method.
#
# usage: scripts/lib/perf-summary.sh PERF_DATA
set -euo pipefail
data="$1"

report() { perf report -i "$data" --no-children --stdio -g none --percentage relative "$@" 2>/dev/null | grep -v -e '^#' -e '^$'; }
# "[.] instance void [Assembly] Name.Space.Type+<Method>d__12::MoveNext()[OptimizedTier1]" -> "Type+<Method>::MoveNext"
shorten() {
    sed -E -e 's/\[(Optimized|QuickJitted|Tier0|Tier1|PreJIT|Instrumented)[A-Za-z0-9]*\]//g' -e 's/\(.*\)//' \
        -e 's/d__[0-9]+//g' -e 's/`[0-9]+(\[[^]]*\])?//g' \
        | awk '{ share = $1; name = $NF; if (name !~ /::/) { $1 = ""; sub(/^ +\[[.k]\] +/, ""); name = $0 }
                 if (length(name) > 120) name = substr(name, 1, 117) "..."; printf "%8s  %s\n", share, name }'
}

# The listings are cut with sed, which reads to the end, not head: head closes the pipe early, perf report and grep
# die of SIGPIPE, and with pipefail the whole summary (and scripts/bench.sh --perf) exited 141 after printing it all.
echo "-- by thread (share of the service's samples)"
report --sort comm | sed -n '1,8p'
echo "-- by layer (own samples; scripts/lib/perf_layers.py)"
report --sort dso,sym -t '|' | python3 "$(dirname "${BASH_SOURCE[0]}")/perf_layers.py"
echo "-- top frames by their own samples"
report --sort sym | sed -n '1,30p' | shorten
