"""Second by second, the work the cluster did per committed order, from a dotnet-counters CSV of the OrleansTickets
meter (scripts/bench.sh --counters). The last rows are the end of the sale, where the work per order grows. The
runtime's own counters (System.Runtime) add the bytes allocated per order and the time the GC paused the service:
like the meter's counts, they follow the code rather than the VM's speed, so builds can be compared across a drift."""
import csv
import re
import sys
from collections import defaultdict

NAME = re.compile(r"^(?P<base>[^ ]+) \([^)]*\)(?:\[(?P<tags>[^\]]*)\])?$")

seconds = defaultdict(dict)
for row in csv.DictReader(open(sys.argv[1], newline="")):
    match = NAME.match(row["Counter Name"])
    if not match:
        continue
    key = match["base"] + (f"[{match['tags']}]" if match["tags"] else "")
    value = float(row["Mean/Increment"])
    # dotnet-counters stamps its readings to the second, and now and then two readings share a stamp: a rate's two
    # increments are both real (keeping one lost a second's tickets, and a gen2 pause, once); a percentile keeps the last.
    if row["Counter Type"] == "Rate":
        seconds[row["Timestamp"]][key] = seconds[row["Timestamp"]].get(key, 0.0) + value
    else:
        seconds[row["Timestamp"]][key] = value


def rate(values, name):
    return sum(v for k, v in values.items() if k == name or k.startswith(name + "["))


ALLOCATED = "dotnet.gc.heap.total_allocated"
PAUSED = "dotnet.gc.pause.time"
# Groups a shard database wrote again after the database refused a key in them (a key reused across types, a key move
# that found the key changed, a forward's holder whose home moved on or was held by another writer). Counted only
# when it happens, so a run without any has no reading: 0.
REWRITES = "orleanstickets.storage.rewrites"
# Runs recorded before the runtime's counters were added have neither: their columns say "-", not 0.
has_runtime = any(ALLOCATED in values for values in seconds.values())

columns = [
    ("shard calls", "orleanstickets.dispatch.shard_calls"),
    ("refresh calls", "orleanstickets.dispatch.refresh_calls"),
    ("room questions", "orleanstickets.shards.room_questions"),
    ("forwards", "orleanstickets.shards.forwards"),
    # Those to a shard on another database than the home's: the key's commit there, then the order's (two commits).
    ("2-commit forwards", "orleanstickets.shards.forwards[commits=two]"),
    ("transfers", "orleanstickets.shards.transfers"),
    ("pauses", "orleanstickets.dispatch.pauses"),
]
print(f"{'second':>6} {'tickets':>8} {'orders':>7} {'purchases':>9} {'refreshes':>9} "
      + " ".join(f"{label + '/order':>20}" for label, _ in columns)
      + f" {'commits':>7} {'orders/commit':>13} {'rewrites':>8} {'commit p50/p99 ms':>17} {'alloc KB/order':>14} {'GC pause ms':>11}")
totals = defaultdict(float)
first = None
for index, (stamp, values) in enumerate(sorted(seconds.items())):
    orders = rate(values, "orleanstickets.orders.committed")
    if orders == 0 and first is None:
        continue
    first = index if first is None else first
    for name in ["orleanstickets.orders.committed", "orleanstickets.tickets.committed", "orleanstickets.dispatch.purchases",
                 "orleanstickets.dispatch.refreshes", "orleanstickets.storage.commits", REWRITES, ALLOCATED, PAUSED] + [n for _, n in columns]:
        totals[name] += rate(values, name)
    per_order = " ".join(f"{(rate(values, name) / orders if orders else 0):>20.2f}" for _, name in columns)
    commits = rate(values, "orleanstickets.storage.commits")
    p50 = values.get("orleanstickets.storage.commit.duration[Percentile=50]")
    p99 = values.get("orleanstickets.storage.commit.duration[Percentile=99]")
    latency = f"{p50 * 1000:.1f} / {p99 * 1000:.1f}" if p50 is not None and p99 is not None else "-"
    print(f"{index - first + 1:>6} {rate(values, 'orleanstickets.tickets.committed'):>8.0f} {orders:>7.0f} "
          f"{rate(values, 'orleanstickets.dispatch.purchases'):>9.0f} {rate(values, 'orleanstickets.dispatch.refreshes'):>9.0f} "
          f"{per_order} {commits:>7.0f} {(orders / commits if commits else 0):>13.1f} {rate(values, REWRITES):>8.0f} {latency:>17} "
          + (f"{(rate(values, ALLOCATED) / orders / 1024 if orders else 0):>14.1f} {rate(values, PAUSED) * 1000:>11.0f}"
             if has_runtime else f"{'-':>14} {'-':>11}"))
orders = totals["orleanstickets.orders.committed"]
if orders:
    print(f"{'all':>6} {totals['orleanstickets.tickets.committed']:>8.0f} {orders:>7.0f} "
          f"{totals['orleanstickets.dispatch.purchases']:>9.0f} {totals['orleanstickets.dispatch.refreshes']:>9.0f} "
          + " ".join(f"{totals[name] / orders:>20.2f}" for _, name in columns)
          + f" {totals['orleanstickets.storage.commits']:>7.0f} {orders / max(1, totals['orleanstickets.storage.commits']):>13.1f}"
          + f" {totals[REWRITES]:>8.0f}"
          + f" {'':>17} "
          + (f"{totals[ALLOCATED] / orders / 1024:>14.1f} {totals[PAUSED] * 1000:>11.0f}" if has_runtime else f"{'-':>14} {'-':>11}"))

# The dispatchers' answers by route (the furthest a purchase went: direct, forwarded, pulled, refreshed, paused), each
# second with its p50 / p99: which steps make the end of a sale's slow answers. Runs recorded before the instrument
# existed have none.
ROUTES = ["direct", "forwarded", "forwarded_across", "pulled", "refreshed", "paused"]
ANSWERS = "orleanstickets.dispatch.answers"
DURATION = "orleanstickets.dispatch.answer.duration"
if any(k.startswith(ANSWERS + "[") for values in seconds.values() for k in values):
    print()
    print(f"{'second':>6} " + " ".join(f"{route + ': answers, p50/p99 ms':>34}" for route in ROUTES))
    for index, (stamp, values) in enumerate(sorted(seconds.items())):
        if first is None or index < first:
            continue
        answered = {route: values.get(f"{ANSWERS}[route={route}]", 0.0) for route in ROUTES}
        if not any(answered.values()):
            continue
        cells = []
        for route in ROUTES:
            p50 = values.get(f"{DURATION}[route={route};Percentile=50]")
            p99 = values.get(f"{DURATION}[route={route};Percentile=99]")
            timing = f"{p50 * 1000:.1f} / {p99 * 1000:.1f}" if answered[route] and p50 is not None and p99 is not None else "-"
            cells.append(f"{answered[route]:>14.0f} {timing:>19}")
        print(f"{index - first + 1:>6} " + " ".join(cells))
