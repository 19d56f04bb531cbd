"""Prints the system calls counted during a sale (scripts/bench.sh --syscalls) per response of the sale.

usage: syscall_summary.py SYSCALLS_CSV LATENCY_CSV SECONDS

SYSCALLS_CSV is `perf stat -x,` output for the whole machine over the first SECONDS of the sale's clock; LATENCY_CSV
is the load generator's timeline of the sale's responses per 100 ms (--latency-timeline). The counts take in every
process on the machine, the load generator's too, so they are per exchange of the benchmark, not the service's alone.
"""
import csv
import sys

# What makes each call in a sale, for the reader of the table (docs/benchmarks.md, eighty-eighth session).
MADE_BY = {
    "pwrite64": "WAL writes (SQLite: two per page, the frame's header, then the page)",
    "fsync": "SQLite: one per group commit",
    "fdatasync": "PostgreSQL: its WAL flushes",
    "recvfrom": "socket reads: HTTP, two per exchange in each process (and the service's round trips to PostgreSQL)",
    "read": "the load generator's HTTP reads",
    "sendto": "socket writes: HTTP, one per exchange in each process (and the round trips to PostgreSQL)",
    "sched_yield": "thread-pool workers spinning before they sleep",
    "futex": "sleeping threads woken",
    "epoll_wait": "the sockets' event loops",
    "fcntl": "SQLite: its file locks",
    "pread64": "database pages read from their files",
}


def main(syscalls_csv: str, latency_csv: str, seconds: float) -> int:
    counts = []
    with open(syscalls_csv, encoding="utf-8") as f:
        for row in csv.reader(line for line in f if line.strip() and not line.startswith("#")):
            if len(row) < 3:
                continue
            value, event = row[0], row[2]
            name = event.removeprefix("syscalls:sys_enter_")
            counts.append((name, None if not value.strip().isdigit() else int(value)))
    responses = 0
    last_window = 0.0
    with open(latency_csv, encoding="utf-8") as f:
        for row in csv.DictReader(f):
            start = float(row["start_s"])
            last_window = max(last_window, start)
            if start < seconds:
                responses += int(row["responses"])
    if not counts:
        print("no counts (see syscalls.log)")
        return 1
    ended_early = last_window + 0.1 < seconds
    print(f"   the machine's calls in the sale's first {seconds:g} s, {responses} responses in them"
          + (" (the sale ended inside the window: what came after it is counted too)" if ended_early else ""))
    for name, value in sorted(counts, key=lambda c: -(c[1] or 0)):
        if value is None:
            print(f"   {name:18s} {'not counted':>10s}")
            continue
        per = value / responses if responses else float("nan")
        print(f"   {name:18s} {value:10d}  {per:6.2f} per response   {MADE_BY.get(name, '')}".rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], float(sys.argv[3])))
