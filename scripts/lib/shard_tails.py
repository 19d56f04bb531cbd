#!/usr/bin/env python3
"""Where a sale's end went, type by type, from one benchmark run's acknowledged orders.

usage: python3 scripts/lib/shard_tails.py .bench/<run>

An order id carries the millisecond its shard minted it (grain-interfaces/Orders/OrderId.cs: ten base-32 digits
after the event, type and shard index), so the answers the load generator kept (acknowledged.jsonl) say when each
shard made its last sale. For each ticket type it prints, in milliseconds from the sale's first order: the type's
last sale, the span from the first of its shards to stop selling to the last, and how many orders and tickets
were sold in that span (the type's end, when buyers whose home shard is empty need forwards and pulls).
"""
import collections
import json
import pathlib
import re
import sys

repo = pathlib.Path(__file__).resolve().parents[2]
source = (repo / "grain-interfaces" / "Orders" / "OrderId.cs").read_text()
digits = re.search(r'TimeDigits\s*=\s*"([^"]+)"', source).group(1)
time_chars = int(re.search(r"TimeChars\s*=\s*(\d+)", source).group(1))


def minted(order_id):
    milliseconds = 0
    for char in order_id.split(".")[3][:time_chars]:
        milliseconds = milliseconds * len(digits) + digits.index(char)
    return milliseconds


# The load generator writes one JSON array; a run with --crowd wrk writes one order per line.
text = (pathlib.Path(sys.argv[1]) / "acknowledged.jsonl").read_text().strip()
orders = json.loads(text) if text.startswith("[") else [json.loads(line) for line in text.splitlines() if line.strip()]
times = [(minted(order["orderId"]), order) for order in orders]
start = min(t for t, _ in times)
by_type = collections.defaultdict(list)
for t, order in times:
    by_type[order["ticketTypeId"]].append((t - start, int(order["orderId"].split(".")[2]), order["quantity"]))
print(f"{'type':12} {'last sale':>9} {'shards stop selling':>21} {'orders':>7} {'tickets':>8}  (in that span)")
for type_id, sales in sorted(by_type.items()):
    last_by_shard = collections.defaultdict(int)
    for t, shard, _ in sales:
        last_by_shard[shard] = max(last_by_shard[shard], t)
    first_dry = min(last_by_shard.values())
    late = [(t, q) for t, _, q in sales if t > first_dry]
    span = f"{first_dry}..{max(last_by_shard.values())}"
    print(f"{type_id:12} {max(t for t, _, _ in sales):>9} {span:>21} {len(late):>7} {sum(q for _, q in late):>8}")
