#!/usr/bin/env python3
"""Watches a sale that wrk makes (scripts/bench.sh --crowd wrk, scripts/wrk/sellout.lua).

Every 0.1 s it reads GET /api/events/EVENT and rewrites STOCK_FILE with each type's remaining tickets, which is how
wrk's threads learn which types are gone. Once every type is sold out it stops wrk (SIGINT: wrk then reports and
exits). It prints, as JSON, the CPU time the service and wrk used from its start to that moment, and the
hypervisor's steal over the same span, for the run's per-order costs.

usage: stock_watch.py EVENT_URL STOCK_FILE WRK_PID SERVICE_PID
"""
import json
import os
import signal
import sys
import time
import urllib.request

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """User plus system time of a process, from /proc/PID/stat; None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICKS


def steal_seconds():
    with open("/proc/stat") as stat:
        fields = stat.readline().split()
    return int(fields[8]) / TICKS


def main(event_url, stock_file, wrk_pid, service_pid):
    started = time.monotonic()
    service_start, wrk_start, steal_start = cpu_seconds(service_pid), cpu_seconds(wrk_pid), steal_seconds()
    service_end = wrk_end = None
    sold_out = False
    while True:
        time.sleep(0.1)
        # Read before asking, so the time charged to wrk ends no later than the answer that stops it.
        wrk_now, service_now = cpu_seconds(wrk_pid), cpu_seconds(service_pid)
        if wrk_now is None:
            break  # wrk ended by itself: its -d ran out before the sale did
        wrk_end, service_end = wrk_now, service_now
        try:
            with urllib.request.urlopen(event_url, timeout=10) as response:
                event = json.load(response)
        except (OSError, ValueError) as error:
            # A missed reading only leaves the stock file as it was; the next one may answer.
            print(f"stock_watch: cannot read {event_url}: {error}", file=sys.stderr)
            continue
        lines = "".join(f"{t['id']} {t['remaining']}\n" for t in event["ticketTypes"])
        with open(stock_file + ".new", "w") as stock:
            stock.write(lines)
        os.replace(stock_file + ".new", stock_file)
        if all(t["remaining"] == 0 for t in event["ticketTypes"]):
            sold_out = True
            os.kill(wrk_pid, signal.SIGINT)
            break
    json.dump({
        "soldOut": sold_out,
        "watchedSeconds": time.monotonic() - started,
        "serviceCpuSeconds": None if service_end is None else service_end - service_start,
        "clientCpuSeconds": None if wrk_end is None else wrk_end - wrk_start,
        "stealSeconds": steal_seconds() - steal_start,
    }, sys.stdout)
    print()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
