"""Prints one markdown row per sell-out run from the orders.json each run leaves, then medians.

usage: python3 scripts/lib/sale-table.py [--by-label] LABEL=RUN_DIR...
  --by-label  one median row per label (for alternating builds A and B); otherwise one median over every run
A "database CPU per order" column appears when a run measured its database server (bench.sh --postgres).
Exits 1 when any run's verification failed.
"""
import json, math, os, statistics, sys

by_label = sys.argv[1:2] == ["--by-label"]
runs = [arg.split("=", 1) for arg in sys.argv[1 + by_label:]]
rows = []
for label, run_dir in runs:
    o = json.load(open(os.path.join(run_dir, "orders.json")))
    n = o["orders"] or 1
    tail = o.get("tail") or {}
    tail_us, body_us = tail.get("serviceMicrosPerOrder"), tail.get("bodyServiceMicrosPerOrder")
    nan = float("nan")
    rows.append((label, [o["secondsToLastTicket"], o["ticketsPerSecond"], (o.get("purchaseLatency") or o["latency"])["p99"], (o["serviceCpuSeconds"] or 0) * 1e6 / n,
                         o["clientCpuSeconds"] * 1e6 / n, (o.get("steal") or {}).get("share", nan) * 100,
                         tail.get("shareOfTime", nan) * 100, tail_us if tail_us is not None else nan,
                         tail_us / body_us if tail_us is not None and body_us else nan,
                         o["databaseCpuSeconds"] * 1e6 / n if o.get("databaseCpuSeconds") is not None else nan], o["passed"]))
has_database = any(not math.isnan(values[9]) for _, values, _ in rows)

def median(values):
    # Runs from builds before a column existed have NaN there; a median over them would be arbitrary.
    present = [v for v in values if not math.isnan(v)]
    return statistics.median(present) if present else float("nan")

def cells(v):
    return (f"{v[0]:.2f} s | {v[1]:,.0f} | {v[2]:.0f} | {v[3]:.0f} µs | {v[4]:.0f} µs | {v[5]:.1f}% | {v[6]:.0f}% | {v[7]:.0f} µs | "
            f"{v[8]:.2f} |" + (f" {v[9]:.0f} µs |" if has_database else ""))

print()
print("| run | sell-out time | tickets/s | p99 ms | service CPU per order | load generator CPU per order | machine steal "
      "| last 20% of the tickets: share of the time | and its service CPU per order | against the rest's |"
      + (" database CPU per order |" if has_database else "") + " verification |")
print("|---" * (12 if has_database else 11) + "|")
for label, values, passed in rows:
    print(f"| {label} | {cells(values)} {'PASS' if passed else 'FAIL'} |")
groups = sorted({label for label, _, _ in rows}) if by_label else [None]
for group in groups:
    members = [r for r in rows if group is None or r[0] == group]
    medians = [median([r[1][k] for r in members]) for k in range(10)]
    name = "median" if group is None else f"median {group}"
    print(f"| {name} | {cells(medians)} {sum(r[2] for r in members)} of {len(members)} PASS |")
    times = [r[1][0] for r in members]
    print(f"range of the sell-out time{'' if group is None else ' for ' + group}: {min(times):.2f}–{max(times):.2f} s")
sys.exit(0 if all(r[2] for r in rows) else 1)
