"""Run the spike load test: start the local stack, run Locust headless against it, report.

The stack runs with demo data, short holds (RESERVATION_TTL_SECONDS=30) and a 5 s sweep, so
stock held by abandoned carts comes back during the run. One hot SKU with little stock is
created for the shoppers to fight over. Locust writes reports/load.html (its charts),
reports/load_*.csv and its own output to reports/load.log; this script prints request counts,
failures by type (409 out-of-stock is the only expected one) and percentiles. Exits 1 if any
unexpected failure was recorded.

    .venv/bin/python tests/load/run.py [--duration 60] [--peak-users 40] [--hot-stock 30]
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import uuid
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from infra.local.harness import StackProcess, start_stack  # noqa: E402

LOCUSTFILE = Path(__file__).resolve().parent / "locustfile.py"
REPORTS = ROOT / "reports"
EXPECTED = "409 out-of-stock (expected)"


def _hot_sku(stack: StackProcess, stock: int) -> str:
    sku = f"SPIKE-{uuid.uuid4().hex[:8].upper()}"
    body = {
        "name": "Spike hot item",
        "skus": [{"sku": sku, "price": {"amount": 1900, "currency": "CNY"}, "stock": stock}],
    }
    response = requests.post(
        f"{stack.base_url}/admin/products",
        json=body,
        headers=stack.auth("load-ops", ["ops"]),
        timeout=60,
    )
    response.raise_for_status()
    return sku


def _locust(stack: StackProcess, args: argparse.Namespace, sku: str) -> int:
    REPORTS.mkdir(exist_ok=True)
    env = {
        **os.environ,
        "LOAD_DURATION": str(args.duration),
        "LOAD_PEAK_USERS": str(args.peak_users),
        "LOAD_HOT_SKU": sku,
    }
    command = [
        str(Path(sys.executable).with_name("locust")),
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "--host",
        stack.base_url,
        "--html",
        str(REPORTS / "load.html"),
        "--csv",
        str(REPORTS / "load"),
        "--only-summary",
        "--loglevel",
        "WARNING",
        "--stop-timeout",
        "10",
    ]
    log = REPORTS / "load.log"
    with log.open("wb") as output:
        done = subprocess.run(
            command,
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            timeout=args.duration + 180,
            check=False,
        )
    return done.returncode


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _report() -> int:
    """Print the figures from Locust's CSVs; the number of unexpected failures."""
    stats = _rows(REPORTS / "load_stats.csv")
    print(
        f"{'request':<36} {'count':>7} {'fails':>6} {'req/s':>7} {'p50':>6} {'p95':>6} "
        f"{'p99':>6} {'max':>7}  (ms)"
    )
    for row in stats:
        name = row["Name"] if row["Name"] == "Aggregated" else f"{row['Name']}"
        print(
            f"{name:<36} {row['Request Count']:>7} {row['Failure Count']:>6} "
            f"{float(row['Requests/s']):>7.1f} {row['50%']:>6} {row['95%']:>6} "
            f"{row['99%']:>6} {float(row['Max Response Time']):>7.0f}"
        )
    failures = _rows(REPORTS / "load_failures.csv")
    unexpected = 0
    print("failures by type:" if failures else "failures by type: none")
    for row in failures:
        expected = EXPECTED in row["Error"]
        if not expected:
            unexpected += int(row["Occurrences"])
        label = "expected  " if expected else "UNEXPECTED"
        print(f"  {label} {row['Occurrences']:>6}  {row['Name']}: {row['Error'][:160]}")
    print(f"unexpected failures: {unexpected}; HTML report: {REPORTS / 'load.html'}")
    return unexpected


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=60, help="seconds of load (default 60)")
    parser.add_argument("--peak-users", type=int, default=40, help="users at the peak")
    parser.add_argument("--hot-stock", type=int, default=30, help="stock of the hot SKU")
    args = parser.parse_args()

    env = {"RESERVATION_TTL_SECONDS": "30", "SWEEP_INTERVAL_SECONDS": "5"}
    stack = start_stack(env=env, timeout=180)
    try:
        sku = _hot_sku(stack, args.hot_stock)
        print(
            f"spike: up to {args.peak_users} users over {args.duration}s against "
            f"{stack.base_url}; hot SKU {sku} with {args.hot_stock} units"
        )
        code = _locust(stack, args, sku)
    finally:
        stack.stop()
    if not (REPORTS / "load_stats.csv").exists():
        tail = (REPORTS / "load.log").read_text(errors="replace")[-3000:]
        print(f"locust exited with {code} and wrote no statistics:\n{tail}", file=sys.stderr)
        return 1
    unexpected = _report()
    return 1 if unexpected else 0


if __name__ == "__main__":
    raise SystemExit(main())
