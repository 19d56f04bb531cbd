"""Sums a perf profile's own samples by layer of the service: reads `perf report --sort dso,sym -t '|'` on stdin.

.NET frames all sit in the perf map's "[JIT]" pseudo-library, so their layer comes from the assembly the perf map
names before the method ("[Orleans.Runtime] Orleans.Runtime.Catalog::..."). Used by scripts/lib/perf-summary.sh.
"""
import re
import sys
from collections import defaultdict

# First match wins; checked against the method's assembly for .NET frames and the library for native ones.
LAYERS = [
    ("OrleansTickets (our grains, API, storage code)", r"^OrleansTickets"),
    ("SQLite (the engine and its .NET driver)", r"^(libe_sqlite3|Microsoft\.Data\.Sqlite|SQLitePCLRaw)"),
    ("Npgsql", r"^Npgsql"),
    ("Orleans (messaging, scheduling, serialization)", r"^Orleans"),
    ("ASP.NET Core and Kestrel", r"^Microsoft\.AspNetCore"),
    ("System.Text.Json", r"^System\.Text\.Json"),
    ("sockets and HTTP types", r"^System\.Net"),
    ("OpenSSL (codes, fingerprints, random ids)", r"^(libcrypto|libssl|libSystem\.Security|System\.Security\.Cryptography)"),
    ("kernel (TCP, wake-ups, file writes, fsync)", r"^\[kernel"),
    ("the JIT compiler", r"^libclrjit"),
    ("CoreCLR (GC, type checks, stubs)", r"^(libcoreclr|stub |\[JIT\])"),
    (".NET libraries (tasks, thread pool, collections)", r"^(System\.Private\.CoreLib|System\.Threading|System\.Collections|System\.Linq|System\.Runtime|System\.Memory)"),
    ("libc", r"^(libc\.so|ld-linux|libm\.so|libstdc)"),
]
METHOD_ASSEMBLY = re.compile(r"\[([A-Za-z0-9_.]+)\] [^ ]+::")

shares = defaultdict(float)
for line in sys.stdin:
    parts = line.rstrip("\n").split("|")
    if len(parts) < 3 or not parts[0].strip().endswith("%"):
        continue
    share, dso, symbol = float(parts[0].strip().rstrip("%")), parts[1].strip(), parts[2].strip()
    owner = dso
    if dso.startswith("[JIT]"):
        method = METHOD_ASSEMBLY.search(symbol)
        owner = method.group(1) if method else ("stub " if "stub " in symbol else dso)
    layer = next((name for name, pattern in LAYERS if re.search(pattern, owner)), f"other ({owner})")
    shares[layer] += share

# perf's per-line percentages can add up to a little over 100 (about 102 in the eighteenth session's runs); scale
# them so the layers are shares of the samples.
total = sum(shares.values()) or 1.0
shares = {k: v * 100.0 / total for k, v in shares.items()}
others = sum(v for k, v in shares.items() if k.startswith("other ("))
for name, share in sorted(((k, v) for k, v in shares.items() if not k.startswith("other (")), key=lambda kv: -kv[1]):
    print(f"{share:7.1f}%  {name}")
print(f"{others:7.1f}%  other (unresolved addresses and small libraries)")
