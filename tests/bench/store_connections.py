"""What a cold start's first request pays to reach its tables: a DynamoDB client per item shape.

PynamoDB gives every model class its own connection and, left alone, every connection its own
botocore session, which loads DynamoDB's service model and endpoint rules again. The store's
connections share one session per thread (``store/tables/connection.py``). This times both in
fresh interpreters: every item shape of the store connected once (its client made, no request
sent), with a session per shape as PynamoDB does by default, and on the shared session.
Milliseconds of CPU, median of ``--repeat`` interpreters; nothing touches the network.

    .venv/bin/python tests/bench/store_connections.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # the repo root, for infra.local

from infra.local.environment import last_json, run_offline  # noqa: E402

_CHILD = """
import json, sys, time
from commerce.store.tables.connection import SharedSessionConnection, TableModel
from pynamodb.connection import Connection
from store_shapes import item_shapes

shapes = item_shapes(TableModel)
kind = Connection if sys.argv[1] == "apart" else SharedSessionConnection
start = time.process_time()
for shape in shapes:
    kind(region="us-east-1").client
print(json.dumps({"shapes": len(shapes), "cpu_ms": (time.process_time() - start) * 1000}))
"""


def _once(mode: str) -> tuple[int, float]:
    done = run_offline(
        _CHILD, mode, path=[ROOT / "layers" / "commerce", ROOT / "tests"], timeout=300
    )
    timed = last_json(done)
    return int(timed["shapes"]), float(timed["cpu_ms"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    figures = {}
    for mode in ("apart", "shared"):
        runs = [_once(mode) for _ in range(args.repeat)]
        figures[mode] = (runs[0][0], statistics.median(cpu for _, cpu in runs))
    shapes, apart = figures["apart"]
    shared = figures["shared"][1]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"store connections: every item shape's DynamoDB client made once, median of"
        f" {args.repeat} fresh interpreters (load average {load:.1f})"
    )
    print(f"{'sessions':<26}  {'shapes':>6}  {'cpu ms':>8}  {'per shape':>9}")
    print(f"{'one per shape (PynamoDB)':<26}  {shapes:>6}  {apart:8.1f}  {apart / shapes:9.1f}")
    print(f"{'one per thread (store)':<26}  {shapes:>6}  {shared:8.1f}  {shared / shapes:9.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
