#!/usr/bin/env python3
"""Writes the summary of a sale that wrk made (scripts/bench.sh --crowd wrk) in the load generator's
--summary-json form, so bench.sh reports both crowds alike.

Inputs: wrk-summary.json (scripts/wrk/sellout.lua), crowd.json (scripts/lib/stock_watch.py), acknowledged.jsonl
(every acknowledged order's body) in RUN_DIR, and whether the load generator's --mode verify passed. Exits 1 when
the run did not pass: not sold out, an error, or a failed check.
"""
import json
import os
import sys

run_dir, passed = sys.argv[1], sys.argv[2] == "0"
wrk = json.load(open(os.path.join(run_dir, "wrk-summary.json")))
watch = json.load(open(os.path.join(run_dir, "crowd.json")))
orders = tickets = 0
with open(os.path.join(run_dir, "acknowledged.jsonl")) as acknowledged:
    for line in acknowledged:
        if line.strip():
            orders += 1
            tickets += len(json.loads(line)["tickets"])
seconds = max(0.0, wrk["lastAcknowledged"] - wrk["firstRequest"])
statuses = wrk["statusCounts"]
# wrk has no retry: a failed exchange (a socket error, or any answer but an order or "sold out") is an error.
errors = wrk["socketErrors"] + sum(count for status, count in statuses.items() if status not in ("200", "201", "409"))
summary = {
    "crowd": "wrk",
    "ticketsSold": tickets,
    "orders": orders,
    "passed": passed and watch["soldOut"] and errors == 0,
    "secondsToLastTicket": seconds,
    "ticketsPerSecond": tickets / seconds if seconds else 0,
    "ordersPerSecond": orders / seconds if seconds else 0,
    "latency": wrk["latency"],
    "errors": errors,
    "retries": 0,
    "abandoned": 0,
    "statusCounts": statuses,
    "serviceCpuSeconds": watch["serviceCpuSeconds"],
    "clientCpuSeconds": watch["clientCpuSeconds"],
    "databaseCpuSeconds": None,
    "steal": {"seconds": watch["stealSeconds"],
              "share": watch["stealSeconds"] / (watch["watchedSeconds"] * os.cpu_count())} if watch["watchedSeconds"] else None,
    "tail": None,
}
json.dump(summary, open(os.path.join(run_dir, "orders.json"), "w"), indent=2)
sys.exit(0 if summary["passed"] else 1)
