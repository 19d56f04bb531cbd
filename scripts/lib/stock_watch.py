#!/usr/bin/env python3
"""Runs and watches a sale that wrk makes (scripts/bench.sh --crowd wrk, scripts/wrk/sellout.lua).

Every 0.1 s it reads each ticket type's remaining tickets and rewrites STOCK_FILE with them, which is how wrk's
threads learn which types are gone and how few tickets are left. It reads GET /api/events/EVENT, which answers
from the event's sales as they were up to a second ago (cheap: at most one round of every shard a second), until a
type still selling is near its end; from then on GET /api/events/EVENT/sales, which asks every shard each time, so
that wrk stops asking for a type within a reading of its last ticket. Once every type is sold out it stops wrk
(SIGINT: wrk then reports and exits).

It prints JSON with the CPU time of the service and of wrk and the hypervisor's steal, read at every reading with
the monotonic clock's time, so the run's costs can be cut at wrk's last acknowledged order (scripts/lib/crowd_summary.py).
It starts wrk itself, right after its first reading, so that the costs start before wrk's first request.

usage: stock_watch.py EVENT_URL STOCK_FILE SERVICE_PID WRK_OUTPUT -- WRK_COMMAND...
"""
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

TICKS = os.sysconf("SC_CLK_TCK")
PAUSE = 0.1
# A type is near its end once this few tickets are left, or this share of its capacity.
NEAR_END_TICKETS, NEAR_END_SHARE = 1000, 0.05
# wrk checks its stop flag every 100 ms; the answers still on the wire when it stops would be lost to the check.
LAST_ANSWERS = 0.5


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


def reading(wrk_pid, service_pid):
    """The monotonic time, the service's and wrk's CPU (0 before wrk started: it has used none) and the steal."""
    return {"at": time.monotonic(), "service": cpu_seconds(service_pid),
            "wrk": cpu_seconds(wrk_pid) if wrk_pid else 0.0, "steal": steal_seconds()}


def main(event_url, stock_file, service_pid, wrk_output, wrk_command):
    readings = [reading(None, service_pid)]
    with open(wrk_output, "w") as output:
        wrk = subprocess.Popen(wrk_command, stdout=output, stderr=subprocess.STDOUT)
    # Stopped by bench.sh's clean-up, wrk goes too.
    signal.signal(signal.SIGTERM, lambda *_: (wrk.kill(), sys.exit(1)))
    url, sold_out = event_url, False
    while True:
        time.sleep(PAUSE)
        if wrk.poll() is not None:
            break  # wrk ended by itself: its -d ran out before the sale did, or it failed
        readings.append(reading(wrk.pid, service_pid))
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                types = json.load(response)["ticketTypes"]
        except (OSError, ValueError) as error:
            # A missed reading only leaves the stock file as it was; the next one may answer.
            print(f"stock_watch: cannot read {url}: {error}", file=sys.stderr)
            continue
        if any(t["remaining"] is None or t["capacity"] is None or t.get("known") is False for t in types):
            # A shard that cannot say what it holds leaves its type's counts null on the event page, and its type not
            # known in /sales: a guess, so the same as a miss.
            print(f"stock_watch: {url} cannot count every ticket type yet", file=sys.stderr)
            continue
        with open(stock_file + ".new", "w") as stock:
            stock.write("".join(f"{t['id']} {t['remaining']}\n" for t in types))
        os.replace(stock_file + ".new", stock_file)
        selling = [t for t in types if t["remaining"] > 0]
        if any(t["remaining"] <= max(NEAR_END_TICKETS, NEAR_END_SHARE * t["capacity"]) for t in selling):
            url = event_url + "/sales"
        if not selling:
            sold_out = True
            # The last order was acknowledged before this read answered, or within moments of it: a reading now closes
            # the CPU window after it. Without one the summary fell back to the reading before the read, which could
            # precede the last order and leave it out of the CPU per order.
            readings.append(reading(wrk.pid, service_pid))
            time.sleep(LAST_ANSWERS)
            wrk.send_signal(signal.SIGINT)
            break
    wrk.wait()
    json.dump({"soldOut": sold_out, "wrkExitCode": wrk.returncode, "readings": readings}, sys.stdout)
    print()


if __name__ == "__main__":
    if len(sys.argv) < 7 or sys.argv[5] != "--":
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[6:])
