"""The pycrdt peer of ReplicationBenchmarks: the same workloads on Yjs's Rust core, in memory.

Prints `bench` lines in the same form. Run by `make bench` in a virtualenv under Benchmarks/.
"""
import os
import sys
import time

from pycrdt import Doc, Map

count = int(os.environ.get("BENCH_OPS", "100000"))

def line(name, value, unit):
    print(f"bench pycrdt_{name} {value:.4g} {unit}")

# Map writes, one transaction per write (as our local writes are one commit each), then batched.
doc = Doc()
m = doc.get("m", type=Map)
start = time.perf_counter()
for i in range(min(count, 20000)):
    with doc.transaction():
        m[f"key-{i}"] = i
single = time.perf_counter() - start
line("map_write_one_txn_each", min(count, 20000) / single, "ops/s")

doc = Doc()
m = doc.get("m", type=Map)
start = time.perf_counter()
with doc.transaction():
    for i in range(count):
        m[f"key-{i}"] = i
batched = time.perf_counter() - start
line("map_write_batched", count / batched, "ops/s")

# Sync: the whole update from an empty state vector, applied to a fresh document.
start = time.perf_counter()
update = doc.get_update()
other = Doc()
other.apply_update(update)
sync = time.perf_counter() - start
line(f"sync_{count}_ops", sync, "s")
line("sync_bytes_per_op", len(update) / count, "B/op")

# Churn: write and delete the keys, then the document's encoded size.
churn = min(count, 20000)
doc = Doc()
m = doc.get("churn", type=Map)
with doc.transaction():
    for i in range(churn):
        m[f"c{i}"] = i
with doc.transaction():
    for i in range(churn):
        del m[f"c{i}"]
line("doc_bytes_after_deletes", len(doc.get_update()), "B")
sys.stdout.flush()
