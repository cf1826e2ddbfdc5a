"""Catalog listing and search: latency and DynamoDB work per page over a large catalog.

The local stack (``python -m infra.local``, no demo data, metering on, schedules every 3600 s)
serves ``GET /products``; the catalog is seeded with ``--products`` products (default 5,000)
through the catalog's own write path (the repository that POST /admin/products uses, and the
search index's adapter) run in this process against the stack's DynamoDB Local, from
``--threads`` threads: two-level categories, tags from a pool, names in Chinese and English,
one to three SKUs each, a tenth of them out of stock and a fifth with units sold.

Each scenario is one listing query, asked ``--requests`` times over HTTP (after two warm-up
requests), one page of ``--limit`` items each; the pages of a scenario alternate between the
first page and the page its next_token leads to. Printed per scenario: p50 and p99 latency,
items per page, and from the stack's metering (attributed by the gateway's request id) the
DynamoDB requests and read request units per page, each also as a ratio to the floor.

The floor: one bare ``Query`` of the same page size on the newest-first listing index
(``LIST#ALL``), from boto3 against the same DynamoDB Local, ``--requests`` times: its p50/p99
and read units (ReturnConsumedCapacity). A page through the stack costs more: the product items
(BatchGetItem) and their stock (two BatchGetItems) are read after the entries, and every
request crosses the gateway and a worker process. Figures are ratios to that floor because the
machine is shared.

    .venv/bin/python tests/bench/catalog.py [--products 5000] [--requests 40] [--limit 20]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from infra.local.harness import StackProcess, start_stack  # noqa: E402
from infra.local.metering import read_records  # noqa: E402

TOPS = ("服装", "Home", "Food", "Tea")
CHILDREN = 3
TAGS = [f"tag{n:02d}" for n in range(24)] + ["summer", "gift", "夏季", "新品"]
ZH = [
    "夏季",
    "显瘦",
    "连衣裙",
    "纯棉",
    "真丝",
    "枕套",
    "绿茶",
    "龙井",
    "竹制",
    "蒸笼",
    "辣椒",
    "礼盒",
]
EN = ["linen", "dress", "cotton", "silk", "pillow", "tea", "bamboo", "steamer", "chili", "gift"]


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def _point_layer_at(stack: StackProcess) -> None:
    """This process's layer talks to the stack's DynamoDB Local (set before it is imported)."""
    os.environ.update(
        {
            "AWS_ENDPOINT_URL_DYNAMODB": stack.dynamodb_endpoint,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
            "POWERTOOLS_METRICS_NAMESPACE": "Commerce",
            "POWERTOOLS_SERVICE_NAME": "bench",
        }
    )
    os.environ.pop("AWS_SESSION_TOKEN", None)
    for logical, name in stack.info["tables"].items():
        variable = {
            "CatalogTable": "CATALOG_TABLE",
            "InventoryTable": "INVENTORY_TABLE",
            "OrdersTable": "ORDERS_TABLE",
            "CustomersTable": "CUSTOMERS_TABLE",
            "CartsTable": "CARTS_TABLE",
        }.get(logical)
        if variable:
            os.environ[variable] = name
    sys.path.insert(0, str(ROOT / "layers" / "commerce"))


def _categories(stack: StackProcess) -> list[tuple[str, str]]:
    """(top id, child id) pairs, made over HTTP as ops make them."""
    headers = stack.auth("bench-ops", ["ops"])
    pairs = []
    for top in TOPS:
        made = requests.post(
            f"{stack.base_url}/admin/categories", json={"name": top}, headers=headers, timeout=30
        )
        top_id = made.json()["category_id"]
        for n in range(CHILDREN):
            child = requests.post(
                f"{stack.base_url}/admin/categories",
                json={"name": f"{top} {n}", "parent_id": top_id},
                headers=headers,
                timeout=30,
            ).json()["category_id"]
            pairs.append((top_id, child))
    return pairs


def seed(stack: StackProcess, count: int, threads: int) -> dict[str, Any]:
    """``count`` products through the catalog's write path; facts the scenarios ask about."""
    _point_layer_at(stack)
    from commerce.catalog.search import DynamoTokenIndex
    from commerce.clock import now_iso
    from commerce.domain.money import Money
    from commerce.domain.product import NewProduct, SkuSpec
    from commerce.store import products, sales

    pairs = _categories(stack)
    index = DynamoTokenIndex()
    rng = random.Random(2026)
    plans = []
    for n in range(count):
        top, child = rng.choice(pairs)
        words = rng.sample(ZH, 2) + rng.sample(EN, 2)
        skus = tuple(
            SkuSpec(
                sku=f"B{n:05d}-{s}",
                price=Money(rng.randint(100, 100_000)),
                stock=0 if rng.random() < 0.1 else rng.randint(1, 500),
            )
            for s in range(rng.randint(1, 3))
        )
        new = NewProduct(
            name="".join(words[:2]) + " " + " ".join(words[2:]),
            description=f"{rng.choice(ZH)}{rng.choice(ZH)} {rng.choice(EN)} item {n}",
            skus=skus,
            category_id=rng.choice([top, child]),
            tags=tuple(rng.sample(TAGS, rng.randint(1, 3))),
        )
        path = (top,) if new.category_id == top else (top, child)
        plans.append((uuid.uuid4().hex, new, path, rng.randint(1, 40) if rng.random() < 0.2 else 0))

    def one(plan: tuple[str, NewProduct, tuple[str, ...], int]) -> None:
        product_id, new, path, sold = plan
        products.create(product_id, new, actor="bench", at=now_iso(), category_path=path)
        stored = products.get(product_id, consistent=True)
        assert stored is not None
        index.index(stored)
        if sold:
            sales.count(product_id, f"bench-{product_id}", "paid", sold, at=now_iso())

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(one, plans))
    return {
        "seconds": time.monotonic() - started,
        "top": pairs[0][0],
        "child": pairs[0][1],
    }


def _measure(
    stack: StackProcess, query: dict[str, str], repeats: int, meter_dir: Path
) -> dict[str, Any]:
    session = requests.Session()
    url = f"{stack.base_url}/products"
    for _ in range(2):
        session.get(url, params=query, timeout=60)
    latencies: list[float] = []
    ids: list[str] = []
    items: list[int] = []
    token: str | None = None
    for n in range(repeats):
        params = dict(query)
        if n % 2 and token:
            params["next_token"] = token
        started = time.perf_counter()
        response = session.get(url, params=params, timeout=60)
        latencies.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"{query}: {response.status_code} {response.text[:200]}")
        body = response.json()
        items.append(len(body["items"]))
        if not n % 2:
            token = body.get("next_token")
        ids.append(response.headers["x-amzn-RequestId"])
    time.sleep(0.5)  # the last records reach the files
    wanted = set(ids)
    calls: dict[str, int] = defaultdict(int)
    rcu: dict[str, float] = defaultdict(float)
    operations: dict[str, int] = defaultdict(int)
    by_operation: dict[str, float] = defaultdict(float)
    for record in read_records(meter_dir):
        ours = record.get("kind") == "call" and record.get("request_id") in wanted
        if ours and record.get("service") == "dynamodb":
            calls[record["request_id"]] += 1
            rcu[record["request_id"]] += float(record.get("rcu") or 0)
            operations[record["operation"]] += 1
            by_operation[record["operation"]] += float(record.get("rcu") or 0)
    return {
        "p50": _percentile(latencies, 0.5),
        "p99": _percentile(latencies, 0.99),
        "items": statistics.mean(items),
        "requests": statistics.mean(calls[i] for i in ids),
        "rcu": statistics.mean(rcu[i] for i in ids),
        "scans": operations.get("Scan", 0),
        "operations": dict(operations),
        "rcu_by_operation": {op: units / len(ids) for op, units in by_operation.items()},
    }


def floor(stack: StackProcess, repeats: int, limit: int) -> dict[str, Any]:
    """One bare Query of ``limit`` entries of the newest-first index, as the stack's first step."""
    client = stack.client("dynamodb")
    table = stack.info["tables"]["CatalogTable"]
    latencies: list[float] = []
    units: list[float] = []
    for _ in range(repeats + 2):
        started = time.perf_counter()
        answer = client.query(
            TableName=table,
            IndexName="listing_newest",
            KeyConditionExpression="lpk = :p",
            ExpressionAttributeValues={":p": {"S": "LIST#ALL"}},
            ScanIndexForward=False,
            Limit=limit,
            ReturnConsumedCapacity="TOTAL",
        )
        latencies.append((time.perf_counter() - started) * 1000)
        units.append(float(answer["ConsumedCapacity"]["CapacityUnits"]))
    latencies, units = latencies[2:], units[2:]
    return {
        "p50": _percentile(latencies, 0.5),
        "p99": _percentile(latencies, 0.99),
        "rcu": statistics.mean(units),
        "requests": 1,
    }


def scenarios(facts: dict[str, Any], limit: int) -> list[tuple[str, dict[str, str]]]:
    page = {"limit": str(limit)}
    return [
        ("newest (no filter)", page),
        ("top-level category", {**page, "category_id": facts["top"]}),
        ("child category", {**page, "category_id": facts["child"]}),
        ("tag", {**page, "tag": "gift"}),
        ("price range", {**page, "min_price": "20000", "max_price": "30000"}),
        ("price_asc, max_price", {**page, "sort": "price_asc", "max_price": "5000"}),
        ("price_desc", {**page, "sort": "price_desc"}),
        ("in_stock", {**page, "in_stock": "true"}),
        ("best_selling", {**page, "sort": "best_selling"}),
        (
            "category+tag+stock+price",
            {
                **page,
                "category_id": facts["top"],
                "tag": "gift",
                "in_stock": "true",
                "max_price": "50000",
            },
        ),
        ("q Latin word", {**page, "q": "linen"}),
        ("q Chinese word", {**page, "q": "连衣裙"}),
        ("q two words", {**page, "q": "真丝 枕套"}),
        ("q + tag + price_asc", {**page, "q": "tea", "tag": "gift", "sort": "price_asc"}),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--products", type=int, default=5000)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    meter_dir = Path(tempfile.mkdtemp(prefix="catalog-bench-"))
    stack = start_stack(
        args=["--no-demo-data", "--metering-dir", str(meter_dir), "--sweep-interval", "3600"],
        env={"SWEEP_INTERVAL_SECONDS": "3600"},
        timeout=180,
    )
    try:
        facts = seed(stack, args.products, args.threads)
        base = floor(stack, args.requests, args.limit)
        print(
            f"catalog: {args.products} products seeded in {facts['seconds']:.0f} s "
            f"({args.threads} threads, the catalog's write path against the stack's DynamoDB "
            f"Local); {args.requests} requests per scenario, limit {args.limit}, over HTTP"
        )
        print(
            f"floor: one bare Query of {args.limit} entries (listing_newest, LIST#ALL): "
            f"p50 {base['p50']:.1f} ms, p99 {base['p99']:.1f} ms, {base['rcu']:.1f} RRU"
        )
        header = (
            f"{'scenario':<26} {'p50 ms':>7} {'p99 ms':>7} {'x p50':>6} {'items':>5} "
            f"{'DDB req':>7} {'RRU':>6} {'x RRU':>6}"
        )
        print(header)
        breakdowns: list[str] = []
        for name, query in scenarios(facts, args.limit):
            got = _measure(stack, query, args.requests, meter_dir)
            parts = ", ".join(
                f"{op} {units:.1f}" for op, units in sorted(got["rcu_by_operation"].items())
            )
            breakdowns.append(f"  {name}: {parts}")
            if got["scans"]:
                raise RuntimeError(f"{name}: {got['scans']} Scan calls")
            print(
                f"{name:<26} {got['p50']:>7.1f} {got['p99']:>7.1f} "
                f"{got['p50'] / base['p50']:>6.1f} {got['items']:>5.1f} "
                f"{got['requests']:>7.1f} {got['rcu']:>6.1f} {got['rcu'] / base['rcu']:>6.1f}"
            )
        print("read units per page by operation:")
        print("\n".join(breakdowns))
        print(
            "x p50 = stack p50 / floor p50; x RRU = read units per page / the floor's; DDB req = "
            "DynamoDB requests per page (Query, BatchGetItem, GetItem; never a Scan); items = "
            "mean items per page (selective filters may return short pages with a next_token)"
        )
    finally:
        stack.stop()
        shutil.rmtree(meter_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
