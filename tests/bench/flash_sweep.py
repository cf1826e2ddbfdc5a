"""The flash sale under DynamoDB's per-partition ceilings: holds a second per shard count.

DynamoDB Local has no per-key ceiling, so this runs a stack whose DynamoDB proxy enforces them
(``--partition-scale S``: AWS's 1,000 write and 3,000 read units a second per partition key,
divided by S; ``infra/local/partition_ceilings.py``). A hold writes one shard item in a
transaction (twice its units), so one shard takes about 500/S holds a second, and N shards N
times that, until something every hold touches (the SKU's meta and record, read at half a
unit each) reaches its own read ceiling of 6,000/S reads a second.

Each row: a SKU with far more stock than the window can sell, split over N shards; C buyers
with a pool of fresh guest carts (opened beforehand, not timed) each ``PUT`` one unit into the
next cart, again and again, for a fixed window. A 429 (every shard with units throttled) is
retried after a pause drawn from ``[0, Retry-After]``, as a polite client does. Counted: the
holds in the window, per second. The books are read back afterwards (reserved, and the units
the cart lines hold, both equal to the holds; oversold 0). The ideal is one shard's rate times
N; the last row is the same stack with the ceiling off (``PATCH /_local/faults``), the
machine's own limit.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import boto3
import requests
from botocore.config import Config

from infra.local.harness import StackProcess, start_stack

OPS = ("sweep-ops", ["ops"])
#: Far more than any row can sell in its window.
STOCK = 100_000
#: Carts opened for a row at most (they are opened before the window, at the stack's pace).
MAX_CARTS = 2500


@dataclass
class Row:
    """One shard count's run under the ceiling (``ceiling`` False: the ceiling was off)."""

    shards: int
    ceiling: bool
    holds: int = 0
    seconds: float = 0.0
    answers: Counter[str] = field(default_factory=Counter)
    reserved: int = 0
    held: int = 0
    throttled_calls: int = 0

    @property
    def rate(self) -> float:
        return self.holds / self.seconds if self.seconds else 0.0

    @property
    def oversold(self) -> int:
        return max(0, self.held - STOCK, self.reserved - STOCK)

    @property
    def books_agree(self) -> bool:
        return self.reserved == self.held == self.holds


def _call(method: str, url: str, **kwargs: Any) -> requests.Response:
    """An ops call, repeated while the stack answers 429 (its own reads meet the ceiling too)."""
    for _ in range(50):
        response = requests.request(method, url, timeout=60, **kwargs)
        if response.status_code != 429:
            return response
        time.sleep(0.2)
    return response


def _hot_sku(stack: StackProcess, shards: int) -> str:
    sku = f"SWEEP-{uuid.uuid4().hex[:10].upper()}"
    auth = stack.auth(*OPS)
    body = {
        "name": "Flash sale item",
        "skus": [{"sku": sku, "price": {"amount": 9900, "currency": "CNY"}, "stock": STOCK}],
    }
    _call("POST", f"{stack.base_url}/admin/products", json=body, headers=auth).raise_for_status()
    if shards > 1:
        path = f"{stack.base_url}/admin/inventory/{sku}/shards"
        _call("PUT", path, json={"count": shards}, headers=auth).raise_for_status()
    return sku


def _open_carts(stack: StackProcess, count: int, concurrency: int) -> list[tuple[str, str]]:
    def one(_: int) -> tuple[str, str] | None:
        response = _call("POST", f"{stack.base_url}/carts")
        if response.status_code != 201:
            return None
        body = response.json()
        return body["cart_id"], body["cart_token"]

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        return [cart for cart in pool.map(one, range(count)) if cart is not None]


def _throttled(stack: StackProcess) -> int:
    snapshot = requests.get(f"{stack.base_url}/_local/faults", timeout=60).json()
    return int(snapshot.get("injected", {}).get("partition_throttled", 0))


def _held(stack: StackProcess, sku: str) -> int:
    client = boto3.client(
        "dynamodb",
        endpoint_url=stack.dynamodb_endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(retries={"mode": "standard"}),
    )
    held = 0
    pages = client.get_paginator("scan").paginate(
        TableName=stack.info["tables"]["CartsTable"],
        ConsistentRead=True,
        FilterExpression="sku = :sku AND attribute_exists(expires_at)",
        ExpressionAttributeValues={":sku": {"S": sku}},
    )
    for page in pages:
        for item in page["Items"]:
            held += sum(int(v["N"]) for v in item.get("takes", {}).get("M", {}).values())
    return held


def _row(
    stack: StackProcess,
    shards: int,
    ceiling: bool,
    carts_wanted: int,
    concurrency: int,
    window: float,
) -> Row:
    sku = _hot_sku(stack, shards)
    carts = _open_carts(stack, carts_wanted, concurrency)
    row = Row(shards=shards, ceiling=ceiling)
    lock = threading.Lock()
    throttled_before = _throttled(stack)

    def buyer(_: int) -> None:
        session = requests.Session()
        while time.monotonic() < deadline:
            with lock:
                if not carts:
                    return
                cart_id, token = carts.pop()
            while time.monotonic() < deadline:
                response = session.put(
                    f"{stack.base_url}/carts/{cart_id}/items/{sku}",
                    json={"quantity": 1},
                    headers={"X-Cart-Token": token},
                    timeout=60,
                )
                with lock:
                    row.answers[str(response.status_code)] += 1
                    if response.status_code == 200:
                        row.holds += 1
                if response.status_code != 429:
                    break
                pause = float(response.headers.get("Retry-After", "1"))
                time.sleep(random.uniform(0, pause))

    start = time.monotonic()
    deadline = start + window
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(buyer, range(concurrency)))
    row.seconds = time.monotonic() - start
    row.throttled_calls = _throttled(stack) - throttled_before
    path = f"{stack.base_url}/admin/inventory/{sku}"
    stock = _call("GET", path, headers=stack.auth(*OPS))
    stock.raise_for_status()
    row.reserved = int(stock.json()["reserved"])
    row.held = _held(stack, sku)
    return row


def _carts_for(shards: int, scale: float, window: float, concurrency: int) -> int:
    """Enough fresh carts for a row: half again what the ceiling lets N shards hold."""
    ideal = 500.0 / scale * shards * window
    return min(MAX_CARTS, int(ideal * 1.5) + concurrency * 2)


def _set_scale(stack: StackProcess, scale: float | None) -> None:
    response = requests.patch(
        f"{stack.base_url}/_local/faults", json={"partition_scale": scale}, timeout=60
    )
    response.raise_for_status()


def sweep(
    counts: Sequence[int],
    scale: float,
    concurrency: int,
    window: float,
    stack_args: list[str],
    env: dict[str, str],
) -> list[Row]:
    """Every shard count of ``counts`` under the ceiling, then the largest with it off."""
    stack = start_stack(args=stack_args, env=env, timeout=180, partition_scale=scale)
    try:
        rows = [
            _row(stack, n, True, _carts_for(n, scale, window, concurrency), concurrency, window)
            for n in counts
        ]
        _set_scale(stack, None)
        widest = max(counts)
        rows.append(_row(stack, widest, False, MAX_CARTS, concurrency, window))
    finally:
        stack.stop()
    return rows


def report(rows: list[Row], scale: float, concurrency: int, window: float) -> None:
    one = next((r.rate for r in rows if r.ceiling and r.shards == 1), 0.0)
    print(
        f"\nshard sweep under DynamoDB's per-partition ceilings / {scale:g} "
        f"({1000 / scale:g} WCU/s and {3000 / scale:g} RCU/s per key), C={concurrency}, "
        f"{window:g} s per row"
    )
    print(
        f"{'shards':>6} {'ceiling':>7} {'holds':>6} {'holds/s':>8} {'ideal/s':>8} {'x one':>6} "
        f"{'429':>5} {'throttled':>9} {'oversold':>8} {'books':>5}"
    )
    for r in rows:
        ideal = f"{one * r.shards:8.1f}" if r.ceiling else f"{'-':>8}"
        times = f"{r.rate / one:6.2f}" if one else f"{'-':>6}"
        print(
            f"{r.shards:>6} {'on' if r.ceiling else 'off':>7} {r.holds:>6} {r.rate:>8.1f} "
            f"{ideal} {times} {r.answers['429']:>5} {r.throttled_calls:>9} {r.oversold:>8} "
            f"{'ok' if r.books_agree else 'NO':>5}"
        )
    print(
        "holds/s = units held per second of the window; ideal = one shard's rate x shards; "
        "x one = holds/s / one shard's; 429 = answers that every shard with units was "
        "throttled (retried after Retry-After); throttled = DynamoDB calls the ceiling refused "
        "(each re-planned onto another shard or retried); books = reserved == units held == "
        "holds; the row with the ceiling off is the machine's own limit"
    )
