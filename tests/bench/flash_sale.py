"""Flash sale: one hot SKU with stock S, B buyers (B >> S) racing for it at concurrency C.

Part one, through the HTTP local stack (``python -m infra.local``, no demo data, metering on,
holds of 600 s so none expires mid-run), twice: the SKU's stock on one inventory shard, then
split over N shards (``PUT /admin/inventory/{sku}/shards``). Every buyer opens a guest cart
(``POST /carts``; timed on its own), then, the moment the sale opens, all of them
``PUT /carts/{id}/items/{sku}`` ``{"quantity": 1}`` from a pool of C threads with one HTTP
session each. Counted: 200s (a unit held), 409 out-of-stock, anything else. From the metering
(by each response's request id): the DynamoDB requests, read and write units of a hold and of a
refusal.

Afterwards the books are read back: ``GET /admin/inventory/{sku}`` for reserved, and the cart
lines that hold the SKU straight from the Carts table; both must equal min(S, B), and oversold
(units held beyond the stock) must be 0.

The floor, measured right after each run against the same DynamoDB Local at the same
concurrency: the same number of bare conditional ``UpdateItem`` calls from boto3 on one item
(``SET available = available - :one`` if ``available >= :one``, starting from S, so as many
succeed and fail as in the sale). Ratio = stack reservations/s / floor calls/s.

Part two (``flash_sweep.py``), on a second stack whose DynamoDB enforces the per-partition
ceilings divided by ``--partition-scale`` (default 100: 10 write and 30 read units a second per
key): for each shard count of ``--sweep`` the holds a second that C buyers get in a fixed
window, beside the ideal (one shard's rate times the shard count) and the same stack with the
ceiling off; oversold 0 in every row.

Prints figures; never fails on a timing. Exits 1 if anything was oversold.

    .venv/bin/python tests/bench/flash_sale.py [--stock 200] [--buyers 2000] [--concurrency 32]
        [--shards 4] [--workers N] [--sweep 1,2,4,8,16] [--partition-scale 100] [--window 10]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import requests
from botocore.config import Config

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from infra.local.harness import StackProcess, start_stack  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import flash_sweep  # noqa: E402
from request_costs import Cost, costs  # noqa: E402

OPS = ("bench-ops", ["ops"])
TTL_SECONDS = "600"


@dataclass
class Timed:
    """Outcomes and latencies (seconds) of one batch of calls, and its wall time."""

    wall: float = 0.0
    outcomes: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.wall if self.wall else 0.0

    def percentile(self, q: int) -> float:
        """The q-th percentile in milliseconds (nearest rank)."""
        ordered = sorted(self.latencies)
        if not ordered:
            return 0.0
        rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered)) - 1))
        return ordered[rank] * 1000


@dataclass
class Result:
    """One scenario: the sale, its books afterwards, and its floor."""

    name: str
    carts: Timed
    sale: Timed
    floor: Timed
    reserved: int
    on_hand: int
    held: int
    floor_left: int
    costs: dict[str, Cost] = field(default_factory=dict)

    def oversold(self, stock: int) -> int:
        return max(0, self.held - stock, self.reserved - stock, self.sale.outcomes["200"] - stock)


def _race(calls: Iterable[Callable[[], str]], concurrency: int) -> Timed:
    """Run every call on a pool of ``concurrency`` threads; each returns its outcome label."""
    timed = Timed()
    lock = threading.Lock()

    def run(call: Callable[[], str]) -> None:
        start = time.perf_counter()
        outcome = call()
        elapsed = time.perf_counter() - start
        with lock:
            timed.outcomes[outcome] += 1
            timed.latencies.append(elapsed)

    todo = list(calls)
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for future in [pool.submit(run, call) for call in todo]:
            future.result()
    timed.wall = time.perf_counter() - start
    return timed


class Buyers:
    """HTTP calls as a buyer makes them, one requests session per thread."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self._local = threading.local()
        #: Each reservation's request id and answer, for the metering.
        self.answers: dict[str, str] = {}

    @property
    def session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            self._local.session = session
        return session

    def open_cart(self, carts: list[tuple[str, str]], lock: threading.Lock) -> str:
        response = self.session.post(f"{self.base_url}/carts", timeout=60)
        if response.status_code != 201:
            return str(response.status_code)
        body = response.json()
        with lock:
            carts.append((body["cart_id"], body["cart_token"]))
        return "201"

    def reserve(self, cart_id: str, token: str, sku: str) -> str:
        response = self.session.put(
            f"{self.base_url}/carts/{cart_id}/items/{sku}",
            json={"quantity": 1},
            headers={"X-Cart-Token": token},
            timeout=60,
        )
        answer = str(response.status_code)
        if response.status_code == 409:
            kind = response.json().get("type", "?")
            answer = "409" if kind == "out-of-stock" else f"409 {kind}"
        self.answers[response.headers.get("x-amzn-RequestId", "")] = answer
        return answer


def _hot_sku(stack: StackProcess, stock: int, shards: int) -> str:
    sku = f"FLASH-{uuid.uuid4().hex[:10].upper()}"
    body = {
        "name": "Flash sale item",
        "skus": [{"sku": sku, "price": {"amount": 9900, "currency": "CNY"}, "stock": stock}],
    }
    auth = stack.auth(*OPS)
    created = requests.post(f"{stack.base_url}/admin/products", json=body, headers=auth, timeout=60)
    created.raise_for_status()
    if shards > 1:
        split = requests.put(
            f"{stack.base_url}/admin/inventory/{sku}/shards",
            json={"count": shards},
            headers=auth,
            timeout=60,
        )
        split.raise_for_status()
        assert split.json()["shards"] == shards, split.text
    return sku


def _inventory(stack: StackProcess, sku: str) -> dict[str, Any]:
    response = requests.get(
        f"{stack.base_url}/admin/inventory/{sku}", headers=stack.auth(*OPS), timeout=60
    )
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def _dynamodb(stack: StackProcess, concurrency: int) -> Any:
    return boto3.client(
        "dynamodb",
        endpoint_url=stack.dynamodb_endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(max_pool_connections=concurrency + 4, retries={"mode": "standard"}),
    )


def _units_held(stack: StackProcess, client: Any, sku: str) -> int:
    """Units of ``sku`` that cart lines hold, read straight from the Carts table."""
    table = stack.info["tables"]["CartsTable"]
    held = 0
    pages = client.get_paginator("scan").paginate(
        TableName=table,
        ConsistentRead=True,
        FilterExpression="sku = :sku AND attribute_exists(expires_at)",
        ExpressionAttributeValues={":sku": {"S": sku}},
    )
    for page in pages:
        for item in page["Items"]:
            held += sum(int(v["N"]) for v in item.get("takes", {}).get("M", {}).values())
    return held


def _floor(stack: StackProcess, client: Any, stock: int, calls: int, concurrency: int) -> Timed:
    """Bare conditional UpdateItems on one item, as many as the sale made, same concurrency."""
    table = stack.info["tables"]["InventoryTable"]
    key = {"pk": {"S": f"BENCH#FLOOR#{uuid.uuid4().hex}"}, "sk": {"S": "STOCK"}}
    client.put_item(TableName=table, Item={**key, "available": {"N": str(stock)}})
    conditional_failed = client.exceptions.ConditionalCheckFailedException

    def take() -> str:
        try:
            client.update_item(
                TableName=table,
                Key=key,
                UpdateExpression="SET available = available - :one",
                ConditionExpression="available >= :one",
                ExpressionAttributeValues={":one": {"N": "1"}},
            )
        except conditional_failed:
            return "409"
        return "200"

    timed = _race([take] * calls, concurrency)
    left = client.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]["available"]
    timed.outcomes["left"] = int(left["N"])
    return timed


def _scenario(
    stack: StackProcess,
    metering: Path,
    name: str,
    stock: int,
    buyers: int,
    concurrency: int,
    shards: int,
) -> Result:
    sku = _hot_sku(stack, stock, shards)
    shop = Buyers(stack.base_url)
    carts: list[tuple[str, str]] = []
    lock = threading.Lock()
    opened = _race([lambda: shop.open_cart(carts, lock)] * buyers, concurrency)
    sale = _race(
        [lambda c=cart_id, t=token: shop.reserve(c, t, sku) for cart_id, token in carts],
        concurrency,
    )
    stock_after = _inventory(stack, sku)
    client = _dynamodb(stack, concurrency)
    held = _units_held(stack, client, sku)
    floor = _floor(stack, client, stock, len(carts), concurrency)
    left = floor.outcomes.pop("left")
    return Result(
        name=name,
        carts=opened,
        sale=sale,
        floor=floor,
        reserved=int(stock_after["reserved"]),
        on_hand=int(stock_after["on_hand"]),
        held=held,
        floor_left=left,
        costs=costs(metering, shop.answers),
    )


def _report(results: list[Result], args: argparse.Namespace, workers: str) -> None:
    expected = min(args.stock, args.buyers)
    print(
        f"flash sale: stock S={args.stock}, buyers B={args.buyers}, "
        f"concurrency C={args.concurrency}, function workers {workers}, hold TTL {TTL_SECONDS}s"
    )
    header = (
        f"{'scenario':<10} {'reserved':>8} {'held':>5} {'oversold':>8} {'200':>5} {'409':>5} "
        f"{'other':>5} {'res/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'floor/s':>8} "
        f"{'fl p50':>7} {'fl p99':>7} {'ratio':>6}"
    )
    print(header)
    for r in results:
        other = sum(n for k, n in r.sale.outcomes.items() if k not in ("200", "409"))
        ratio = r.sale.rate / r.floor.rate if r.floor.rate else 0.0
        print(
            f"{r.name:<10} {r.reserved:>8} {r.held:>5} {r.oversold(args.stock):>8} "
            f"{r.sale.outcomes['200']:>5} {r.sale.outcomes['409']:>5} {other:>5} "
            f"{r.sale.rate:>7.1f} {r.sale.percentile(50):>7.1f} {r.sale.percentile(99):>7.1f} "
            f"{r.floor.rate:>8.1f} {r.floor.percentile(50):>7.1f} {r.floor.percentile(99):>7.1f} "
            f"{ratio:>6.3f}"
        )
    for r in results:
        others = {k: n for k, n in r.sale.outcomes.items() if k not in ("200", "409")}
        books = "yes" if r.reserved == r.held == expected else "NO"
        print(
            f"{r.name}: reserved == held == min(S, B) = {expected}: {books}; on_hand {r.on_hand}; "
            f"carts opened {r.carts.outcomes['201']} at {r.carts.rate:.1f}/s "
            f"(p50 {r.carts.percentile(50):.1f} ms); floor took {r.floor.outcomes['200']}, "
            f"left {r.floor_left}" + (f"; other outcomes {others}" if others else "")
        )
    for r in results:
        # The bounds are issue #13's: a hold at most 4 requests, a refusal at most 1 (0 under
        # the sold-out mark); a refusal above 1 saw units at its read and lost them at the write.
        for answer, label, bound in (("200", "a held unit", 4), ("409", "a refusal", 1)):
            if answer in r.costs:
                print(f"{r.name}: {label} costs {r.costs[answer].line(bound)}")
    print(
        "res/s = reservation calls (PUT item, 200 or 409) per second of the sale; "
        "floor = bare conditional UpdateItem on one item, same DynamoDB Local, same concurrency; "
        "ratio = res/s / floor/s"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stock", type=int, default=200, help="units of the hot SKU (S)")
    parser.add_argument("--buyers", type=int, default=2000, help="buyers, one cart each (B)")
    parser.add_argument("--concurrency", type=int, default=32, help="client threads (C)")
    parser.add_argument("--shards", type=int, default=4, help="shards of the second run (N)")
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="function workers of the local stack (default: the stack's, LOCAL_MAX_CONCURRENCY)",
    )
    parser.add_argument(
        "--sweep", default="1,2,4,8,16", help="shard counts under the ceiling ('' skips it)"
    )
    parser.add_argument(
        "--partition-scale", type=float, default=100.0, help="the ceilings' divisor (S)"
    )
    parser.add_argument("--window", type=float, default=10.0, help="seconds each sweep row runs")
    args = parser.parse_args()

    stack_args = ["--no-demo-data"]
    if args.workers is not None:
        stack_args += ["--max-concurrency", str(args.workers)]
    metering = Path(tempfile.mkdtemp(prefix="flash-sale-"))
    env = {"RESERVATION_TTL_SECONDS": TTL_SECONDS}
    stack = start_stack(args=[*stack_args, "--metering-dir", str(metering)], env=env, timeout=180)
    try:
        sale = (args.stock, args.buyers, args.concurrency)
        results = [_scenario(stack, metering, "unsharded", *sale, 1)]
        if args.shards > 1:
            results.append(_scenario(stack, metering, f"{args.shards} shards", *sale, args.shards))
    finally:
        stack.stop()
        shutil.rmtree(metering, ignore_errors=True)
    workers = str(args.workers) if args.workers is not None else "stack default"
    _report(results, args, workers)
    oversold = sum(r.oversold(args.stock) for r in results)
    counts = [int(n) for n in args.sweep.split(",") if n.strip()]
    if counts:
        rows = flash_sweep.sweep(
            counts, args.partition_scale, args.concurrency, args.window, stack_args, env
        )
        flash_sweep.report(rows, args.partition_scale, args.concurrency, args.window)
        oversold += sum(row.oversold for row in rows)
    print(f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    if oversold:
        print(f"OVERSOLD: {oversold} unit(s)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
