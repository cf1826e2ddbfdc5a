"""Capacity plan: measure what a stock hold, a sold-out refusal and a whole order cost on the local
stack, and write them to docs/capacity.json and the plan computed from them to docs/capacity.md.

The stack runs with its metering on, as for the cost per order (``order_cost.py``, whose
measuring code this reuses): every DynamoDB call's request units by table and by item key, each
SQS message, each invocation and its handler time. Set-up, not counted: ops create a product
whose SKU has ``--stock`` units split over ``--shards`` stock shards, and a second one with 0
units over as many shards; each repeat's cart is created and left to settle first. Then, each
measured from its first request until every invocation it caused has finished:

- **hold**: ``PUT /carts/{id}/items/{sku}`` of 1 unit on the stocked SKU (200);
- **refusal**: the same call on the sold-out SKU (409 out-of-stock);
- **order**: one guest order of one line, cart to PAID and notified, as ``order_cost.py``
  measures it (client polls apart); payment provider calls are the charges the sandbox
  provider's ledger recorded for the order.

Per shard: the units each stock shard item took (the meter's per-item figures): the write units
on the shard a hold takes from, the read units on each shard it reads, and how many it reads.
Figures are medians over ``--repeat`` runs; the plan (``infra/ops/capacity.py``) turns them into
shards, table and API rates, Lambda concurrency, quotas and dollars.

    .venv/bin/python tests/bench/capacity.py [--repeat 5] [--shards 4]
    .venv/bin/python tests/bench/capacity.py --from-json   # re-render docs/capacity.md only
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "layers" / "commerce"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import order_cost  # noqa: E402
from commerce.store import keys  # noqa: E402
from order_cost import OPS, Figures, add_up, consumed_queues, wait_settled  # noqa: E402

from infra.local.harness import StackProcess  # noqa: E402
from infra.ops import capacity  # noqa: E402

JSON_PATH = ROOT / "docs" / "capacity.json"
DOC_PATH = ROOT / "docs" / "capacity.md"


class Bench:
    """The metered stack and what the measurements need of it."""

    def __init__(
        self, stack: StackProcess, directory: Path, names: dict[str, str], memory: dict[str, int]
    ) -> None:
        self.stack = stack
        self.directory = directory
        self.names = names
        self.memory = memory
        self.consumed = consumed_queues(stack)
        self.http = requests.Session()
        self.tables = {str(v): str(k) for k, v in stack.info["tables"].items()}
        self.queues = {
            str(url).rsplit("/", 1)[-1]: str(logical)
            for logical, url in stack.info["queues"].items()
        }

    def sku(self, stock: int, shards: int) -> str:
        (sku,) = order_cost.product(self.stack, 1, stock=stock)
        reply = self.http.put(
            f"{self.stack.base_url}/admin/inventory/{sku}/shards",
            json={"count": shards},
            headers=self.stack.auth(*OPS),
            timeout=60,
        )
        if reply.status_code != 200:
            raise RuntimeError(f"sharding {sku}: {reply.status_code} {reply.text}")
        return sku

    def cart(self) -> tuple[str, dict[str, str]]:
        reply = self.http.post(f"{self.stack.base_url}/carts", timeout=60)
        reply.raise_for_status()
        body = reply.json()
        return str(body["cart_id"]), {"X-Cart-Token": str(body["cart_token"])}

    def new_cart(self) -> tuple[str, dict[str, str]]:
        """A new cart, once what it started has finished: its header's stream record reaches
        the analytics consumer a poll later, which must not land in the next measurement."""
        mark = time.time()
        cart = self.cart()
        wait_settled(self.directory, mark, _stream_dispatched, self.consumed)
        return cart

    def measure(self, action: Callable[[], None]) -> Figures:
        """The figures of everything ``action`` caused, schedules apart."""
        mark = time.time()
        action()
        records = wait_settled(self.directory, mark, lambda _: True, self.consumed)
        scheduled = {
            r["request_id"]
            for r in records
            if r.get("kind") == "dispatch" and r["source"] == "schedule"
        }
        own = [r for r in records if r["request_id"] and r["request_id"] not in scheduled]
        return add_up(own, self.names, self.memory)

    def hold(self, sku: str, expected: int) -> Figures:
        cart_id, token = self.new_cart()

        def put() -> None:
            reply = self.http.put(
                f"{self.stack.base_url}/carts/{cart_id}/items/{sku}",
                json={"quantity": 1},
                headers=token,
                timeout=60,
            )
            if reply.status_code != expected:
                raise RuntimeError(f"hold on {sku}: {reply.status_code} {reply.text}")

        return self.measure(put)

    def charges(self, order_id: str) -> int:
        """Charge calls the sandbox provider's ledger recorded for the order."""
        table = self.stack.info["tables"]["SandboxPaymentsTable"]
        found = self.stack.client("dynamodb").query(
            TableName=table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :charge)",
            ExpressionAttributeValues={":pk": {"S": order_id}, ":charge": {"S": "charge#"}},
            ConsistentRead=True,
        )
        return int(found["Count"])


def _stream_dispatched(records: list[dict[str, Any]]) -> bool:
    return any(r.get("kind") == "dispatch" and r.get("source") == "stream" for r in records)


def _median(values: list[float]) -> float:
    return float(statistics.median(values)) if values else 0.0


def shard_keys(sku: str, shards: int) -> list[str]:
    """The meter's key text of each stock shard item of ``sku``."""
    return [f"{keys.stock_pk(sku, n)}|{keys.STOCK_SK}" for n in range(shards)]


def operation(
    bench: Bench,
    runs: list[Figures],
    description: str,
    *,
    sku: str | None = None,
    shards: int = 0,
    provider_calls: list[int] | None = None,
) -> dict[str, Any]:
    """One operation's medians, as docs/capacity.json keeps them."""

    def med(get: Callable[[Figures], float]) -> float:
        return round(_median([float(get(f)) for f in runs]), 4)

    functions = sorted({fn for f in runs for fn, _ in f.invocations})

    def calls(f: Figures, fn: str) -> float:
        return float(sum(n for (name, _), n in f.invocations.items() if name == fn))

    tables = sorted({t for f in runs for t in f.table_units})
    queues = sorted({q for f in runs for _, q in f.messages})
    found: dict[str, Any] = {
        "description": description,
        "api_requests": med(lambda f: f.api_requests),
        "invocations": {fn: med(lambda f, fn=fn: calls(f, fn)) for fn in functions},
        "duration_ms": {
            fn: med(lambda f, fn=fn: f.handler_ms[fn] / max(1.0, calls(f, fn))) for fn in functions
        },
        "memory_mb": {fn: bench.memory.get(fn, 128) for fn in functions},
        "sources": {fn: source for f in runs for (fn, source) in f.invocations},
        "dynamodb_requests": med(lambda f: sum(f.dynamodb_calls.values())),
        "tables": {
            bench.tables.get(t, t): {
                "requests": med(lambda f, t=t: f.table_calls[t]),
                "rru": med(lambda f, t=t: f.table_units[t][0]),
                "wru": med(lambda f, t=t: f.table_units[t][1]),
            }
            for t in tables
        },
        "sqs_messages": {
            bench.queues.get(q, q): med(
                lambda f, q=q: sum(n for (_, queue), n in f.messages.items() if queue == q)
            )
            for q in queues
        },
        "sqs_requests": med(lambda f: f.sqs_requests),
        "provider_calls": _median([float(n) for n in provider_calls or []]),
        "errors": sorted({e for f in runs for e in f.errors}),
    }
    if sku is not None:
        inventory = bench.stack.info["tables"]["InventoryTable"]
        shard_items = [(inventory, key) for key in shard_keys(sku, shards)]

        def read_shards(f: Figures) -> int:
            return sum(1 for item in shard_items if f.key_units[item][0] > 0)

        read = med(read_shards)
        found["stock_shard"] = {
            "shards": shards,
            "wru": med(lambda f: sum(f.key_units[item][1] for item in shard_items)),
            "rru_per_shard_read": med(
                lambda f: sum(f.key_units[item][0] for item in shard_items) / max(1, read_shards(f))
            ),
            "shards_read": read,
            "reads_every_shard": read >= shards,
        }
    return found


def measure_all(repeat: int, shards: int, stock: int) -> dict[str, Any]:
    with order_cost.metered_stack("capacity-") as (stack, directory, names, memory):
        bench = Bench(stack, directory, names, memory)
        stocked = bench.sku(stock, shards)
        sold_out = bench.sku(0, shards)
        # One of each unmeasured first: every function has run once, each measured run is warm.
        bench.hold(stocked, 200)
        bench.hold(sold_out, 409)
        holds = [bench.hold(stocked, 200) for _ in range(repeat)]
        refusals = [bench.hold(sold_out, 409) for _ in range(repeat)]
        line = order_cost.product(stack, 1)
        order_cost.measure(stack, directory, line, names, memory, 0.3)
        orders = [
            order_cost.measure(stack, directory, line, names, memory, 0.3) for _ in range(repeat)
        ]
        charges = [bench.charges(run.order_id) for run in orders]
        return {
            "hold": operation(
                bench,
                holds,
                f"PUT /carts/{{id}}/items/{{sku}} holding 1 unit of a SKU of {stock} units over "
                f"{shards} shards (200)",
                sku=stocked,
                shards=shards,
            ),
            "refusal": operation(
                bench,
                refusals,
                f"the same call on a sold-out SKU (0 units over {shards} shards): 409 out-of-stock",
                sku=sold_out,
                shards=shards,
            ),
            "order": operation(
                bench,
                [run.order for run in orders],
                "one guest order of 1 line: POST /carts, PUT the line, PUT the shipping "
                "address, POST /orders (tok_ok), paid through the payments queue by the "
                "sandbox provider, order.paid notified; the client's polls of GET "
                "/orders/{id} are not counted",
                provider_calls=charges,
            ),
        }


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    return done.stdout.strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per operation; medians")
    parser.add_argument("--shards", type=int, default=4, help="stock shards of the bench SKUs")
    parser.add_argument("--stock", type=int, default=100_000, help="units of the stocked SKU")
    parser.add_argument(
        "--from-json", action="store_true", help=f"render {DOC_PATH.name} from {JSON_PATH.name}"
    )
    args = parser.parse_args()
    if not args.from_json:
        started = time.monotonic()
        operations = measure_all(args.repeat, args.shards, args.stock)
        measured = {
            "measured_at": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "commit": _git("rev-parse", "--short", "HEAD")
            + ("+changes" if _git("status", "--porcelain") else ""),
            "machine": f"{os.cpu_count()} cores, {platform.system()} {platform.machine()}",
            "load": ", ".join(f"{x:.2f}" for x in os.getloadavg()),
            "repeat": args.repeat,
            "command": "tests/bench/capacity.py " + " ".join(sys.argv[1:]),
            "seconds": round(time.monotonic() - started),
            "operations": operations,
        }
        JSON_PATH.write_text(json.dumps(measured, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {JSON_PATH.relative_to(ROOT)}")
    measured = json.loads(JSON_PATH.read_text(encoding="utf-8"))
    DOC_PATH.write_text(capacity.render(capacity.plan(measured)), encoding="utf-8")
    print(f"wrote {DOC_PATH.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
