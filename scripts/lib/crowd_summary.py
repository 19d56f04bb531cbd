#!/usr/bin/env python3
"""Writes the summary of a sale that wrk made (scripts/bench.sh --crowd wrk) in the load generator's
--summary-json form, so bench.sh reports both crowds alike.

Inputs in RUN_DIR: wrk-summary.json (scripts/wrk/sellout.lua), crowd.json (scripts/lib/stock_watch.py),
acknowledged.jsonl (every acknowledged order's body); and whether the load generator's --mode verify passed.
The CPU times run from the watcher's first reading (before wrk's first request) to its first reading after wrk's
last acknowledged order, so the sold-out answers wrk gets after the sale are left out. The load generator's run
to its last response instead, which takes them in (tens of milliseconds more; docs/benchmarks.md, "What the printed
numbers cover"): the two crowds' CPU per order differ by about that much. Exits 1 when the run did not pass: not
sold out, an error, a failed check, or an input missing.
"""
import json
import os
import sys

run_dir, passed = sys.argv[1], sys.argv[2] == "0"


def load(name):
    try:
        with open(os.path.join(run_dir, name)) as file:
            return json.load(file)
    except (OSError, ValueError) as error:
        print(f"crowd_summary: {name}: {error}", file=sys.stderr)
        return None


wrk, watch = load("wrk-summary.json"), load("crowd.json")
orders = tickets = 0
if os.path.exists(os.path.join(run_dir, "acknowledged.jsonl")):
    with open(os.path.join(run_dir, "acknowledged.jsonl")) as acknowledged:
        for line in acknowledged:
            if line.strip():
                orders += 1
                tickets += len(json.loads(line)["tickets"])
seconds = max(0.0, wrk["lastAcknowledged"] - wrk["firstRequest"]) if wrk else 0.0
statuses = wrk["statusCounts"] if wrk else {}
# wrk has no retry: a failed exchange (a socket error, or any answer but an order or "sold out") is an error. A 200 is
# not one: the service answers a first request 200 when its dispatcher had to ask again with the key itself, and
# each body names its request, which verify mode checks. A 2xx whose body is not in acknowledged.jsonl is an error
# (sellout.lua writes each 2xx body as a line; an empty one is a blank line): an order nobody could hold, which the
# checks would count as lost rather than as the answer that lost it.
errors = (wrk["socketErrors"] if wrk else 0) + sum(count for status, count in statuses.items() if status not in ("200", "201", "409"))
errors += max(0, statuses.get("200", 0) + statuses.get("201", 0) - orders)
readings = watch["readings"] if watch else []
first = readings[0] if readings else None
last = next((r for r in readings if wrk and r["at"] >= wrk["lastAcknowledged"]), readings[-1] if readings else None)
spent = lambda key: last[key] - first[key] if first and last and first[key] is not None and last[key] is not None else None
window = last["at"] - first["at"] if first and last else 0
summary = {
    "crowd": "wrk",
    "ticketsSold": tickets,
    "orders": orders,
    "passed": passed and wrk is not None and watch is not None and watch["soldOut"] and errors == 0,
    "secondsToLastTicket": seconds,
    "ticketsPerSecond": tickets / seconds if seconds else 0,
    "ordersPerSecond": orders / seconds if seconds else 0,
    "latency": wrk["latency"] if wrk else {"p50": 0, "p95": 0, "p99": 0, "max": 0},
    "errors": errors,
    "retries": 0,
    "abandoned": 0,
    "statusCounts": statuses,
    "serviceCpuSeconds": spent("service"),
    "clientCpuSeconds": spent("wrk"),
    "databaseCpuSeconds": None,
    "steal": {"seconds": spent("steal"), "share": spent("steal") / (window * os.cpu_count())} if window else None,
    "tail": None,
}
with open(os.path.join(run_dir, "orders.json"), "w") as file:
    json.dump(summary, file, indent=2)
sys.exit(0 if summary["passed"] else 1)
