"""Orders through every fault at once: prints what was injected and what the books say.

Usage: .venv/bin/python tests/bench/faults.py [--buyers 60] [--orders-per-buyer 2] [--skus 4]
[--stock 20] [--concurrency 8] [--seed 11]

Starts a local stack of its own with all of ``infra/local/faults.py``'s faults on (the flags in
``tests/fault_run.py``), lets buyers race for a few SKUs with little stock through the API, waits
for payments and notifications to settle, turns the faults off and reads the tables back. Exits
1 if any order was lost, charged twice or oversold, a notification went out twice, or the
catalog miscounted what sold.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from fault_run import FAULT_FLAGS, RunShape, faulty_stack, run  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--buyers", type=int, default=60)
    parser.add_argument("--orders-per-buyer", type=int, default=2)
    parser.add_argument("--skus", type=int, default=4)
    parser.add_argument("--stock", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)
    shape = RunShape(
        buyers=args.buyers,
        orders_per_buyer=args.orders_per_buyer,
        skus=args.skus,
        stock=args.stock,
        concurrency=args.concurrency,
        settle_seconds=180.0,
    )
    flags = " ".join(f"{flag} {value}" for flag, value in FAULT_FLAGS.items())
    print(f"fault run: {shape}\nstack flags: {flags}", flush=True)
    with faulty_stack() as stack:
        figures = run(stack, shape, seed=args.seed)
    for line in figures.lines():
        print(line)
    problems = [
        *figures.lost,
        *figures.charged_twice,
        *figures.oversold,
        *figures.sent_twice,
        *figures.sold_miscounted,
    ]
    for problem in problems:
        print(f"  ! {problem}")
    if figures.failed:
        print(f"  failed attempts: {sorted(set(figures.failed))}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
