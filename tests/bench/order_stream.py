"""Order stream: N order events through the stream consumer on the local stack, against a floor.

The local stack (``python -m infra.local``, no demo data, schedules every 3600 s, metering on)
runs as ``make run`` does: DynamoDB Local's Orders stream, the stack's stream poller with the
template's event source (batches of 100, a 1 s window, one poller per shard), the
AnalyticsFunction in a worker. The bench writes order items straight into the Orders table, as
the order book does (``store.orders.new_order_item``): each write is one event on the stream.

1. **Throughput**: ``--events`` writes (default 10,000) as fast as ``--writers`` threads can
   make them: orders placed, then paid, every tenth partly refunded, among ``--customers``
   signed-in customers and guests, over 200 SKUs. It is through when today's figures (read
   through ``GET /admin/analytics/sales``) have grown by exactly the payments and refunds
   written. Printed: events/s from the first write to then, the consumer's DynamoDB write (and
   read) request units per event from the metering (ReturnConsumedCapacity; transactions
   rounded per item as AWS does), and the aggregate updates the facts made.
2. **Lag**: ``--probes`` orders (default 200), paced at ``--probe-rate`` a second so the
   consumer is not saturated, each with a SKU of its own; a poller reads that SKU's day
   aggregate every 20 ms, and the lag is the time from the PAID write to its figure (p50, p99).
3. **Floor**: the same number of aggregate updates as bare conditional ``UpdateItem`` calls
   (``ADD`` to a counter, conditioned on an attribute) from one thread, as the stream is read
   by one poller per shard, on the same DynamoDB Local. Ratio = consumer events/s / floor
   events/s, where floor events/s = floor updates/s / (updates per event).

It never fails on a timing; it exits 1 only if the figures do not add up to what was written
(too many, or not all within 15 minutes) or a probe never reaches them.

    .venv/bin/python tests/bench/order_stream.py [--events 10000] [--probes 200]
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "layers" / "commerce"))
sys.path.insert(0, str(ROOT / "tests"))

from commerce import clock  # noqa: E402
from commerce.domain.aggregates import plan_for  # noqa: E402
from commerce.domain.order_facts import Paid, order_facts, utc_date  # noqa: E402
from commerce.store import keys  # noqa: E402
from stream_builders import OrderStory, order_image, pk_sk_table  # noqa: E402

from infra.local.harness import StackProcess, start_stack  # noqa: E402
from infra.local.metering import read_records, select  # noqa: E402

SKUS = [f"BENCH-{n:03d}" for n in range(200)]
DRAIN_TIMEOUT = 900.0


@dataclass
class Workload:
    stories: list[OrderStory]
    events: int
    paid: int
    refunded: int  # minor units
    updates: int  # aggregate updates the facts make (plan increments + last-order moves)


def workload(events: int, customers: int, rng: random.Random) -> Workload:
    """Orders whose writes add up to ``events``: placed, paid, every tenth refunded in part."""
    now = clock.now()
    run = uuid.uuid4().hex[:6]
    stories: list[OrderStory] = []
    written = paid = refunded = updates = 0
    index = 0
    while written < events:
        owner = f"bench-c-{rng.randrange(customers)}" if rng.random() < 0.7 else None
        lines = tuple(
            (sku, rng.randint(1, 3), rng.randint(500, 50_000))
            for sku in sorted(rng.sample(SKUS, rng.randint(1, 3)))
        )
        order_id = f"bench-{run}-{index:06d}"
        story = OrderStory(order_id, owner, f"b{index}@example.com", lines, now)
        index += 1
        story.pay(now + 1)
        if index % 10 == 0 and written + 3 <= events:
            story.refund(max(1, story.total // 4), now + 2)
            refunded += max(1, story.total // 4)
        keep = min(len(story.versions), events - written)
        story.versions = story.versions[:keep]
        stories.append(story)
        written += keep
        for i in range(1, keep):
            before, after = story.versions[i - 1][0].order, story.versions[i][0].order
            for fact in order_facts(before, after, story.versions[i][1]):
                updates += len(plan_for(fact).increments)
                if isinstance(fact, Paid):
                    paid += 1
                    updates += fact.customer_id is not None  # the last order moves forward
    return Workload(stories, written, paid, refunded, updates)


def write_all(stack: StackProcess, stories: list[OrderStory], writers: int) -> float:
    """Write every order's versions in order (one thread per order at a time); the start time."""
    table = stack.info["tables"]["OrdersTable"]
    local = threading.local()

    def client() -> Any:
        if not hasattr(local, "client"):
            local.client = stack.client("dynamodb")
        return local.client

    def write(story: OrderStory) -> None:
        for stored, at in story.versions:
            client().put_item(TableName=table, Item=order_image(stored, at))

    started = time.perf_counter()
    with ThreadPoolExecutor(writers) as pool:
        list(pool.map(write, stories))
    return started


def consumed(directory: Path, function: str, since: float) -> tuple[int, float, float]:
    """Stream records the function was handed since ``since`` (after the event filters), and
    the write and read request units it used."""
    records = [r for r in read_records(directory) if float(r.get("t", 0)) >= since]
    handed = sum(
        int(r.get("records", 0))
        for r in select(records, "dispatch")
        if r.get("function") == function and r.get("source") == "stream"
    )
    calls = [r for r in select(records, "call") if r.get("function") == function]
    wru = sum(float(r.get("wcu", 0)) for r in calls)
    rru = sum(float(r.get("rcu", 0)) for r in calls)
    return handed, wru, rru


def today(stack: StackProcess) -> dict[str, Any]:
    """Today's totals, through the API as ops read them."""
    day = utc_date(clock.now())
    reply = requests.get(
        f"{stack.base_url}/admin/analytics/sales",
        params={"from": day, "to": day},
        headers=stack.auth("bench-ops", ["ops"]),
        timeout=60,
    )
    reply.raise_for_status()
    totals: dict[str, Any] = reply.json()["totals"]
    return totals


@dataclass
class Throughput:
    events: int
    handed: int
    seconds: float
    wru: float
    rru: float
    updates: int
    paid: int

    @property
    def per_second(self) -> float:
        return self.events / self.seconds


def throughput(stack: StackProcess, directory: Path, args: argparse.Namespace) -> Throughput:
    """Write the workload; it is through when today's orders and refunds have grown by exactly
    what was written (the figures themselves say the consumer is done)."""
    function = stack.info["functions"]["AnalyticsFunction"]
    load = workload(args.events, args.customers, random.Random(args.seed))
    before = today(stack)
    since = time.time()
    started = write_all(stack, load.stories, args.writers)
    deadline = time.monotonic() + DRAIN_TIMEOUT
    while True:
        now = today(stack)
        orders = now["orders"] - before["orders"]
        refunds = now["refunds"]["amount"] - before["refunds"]["amount"]
        if orders == load.paid and refunds == load.refunded:
            finished = time.perf_counter()
            break
        if orders > load.paid or time.monotonic() > deadline:
            raise SystemExit(
                f"figures at {orders} orders and {refunds} refunded, expected "
                f"{load.paid} and {load.refunded}"
            )
        time.sleep(0.25)
    handed, wru, rru = consumed(directory, function, since)
    return Throughput(
        events=load.events,
        handed=handed,
        seconds=finished - started,
        wru=wru,
        rru=rru,
        updates=load.updates,
        paid=load.paid,
    )


@dataclass
class Lags:
    seconds: list[float] = field(default_factory=list)
    missing: int = 0


def lags(stack: StackProcess, args: argparse.Namespace) -> Lags:
    """Paced probe orders, each with its own SKU; time from the PAID write to its figure."""
    orders = stack.info["tables"]["OrdersTable"]
    analytics = stack.info["tables"]["AnalyticsTable"]
    writer, reader = stack.client("dynamodb"), stack.client("dynamodb")
    pending: dict[str, float] = {}
    found = Lags()
    lock = threading.Lock()
    done = threading.Event()

    def poll() -> None:
        while not done.is_set() or pending:
            with lock:
                waiting = dict(pending)
            for sku, paid_at in waiting.items():
                item = reader.get_item(
                    TableName=analytics,
                    Key={"pk": {"S": keys.sku_day_pk(utc_date(int(paid_at)))}, "sk": {"S": sku}},
                ).get("Item")
                if item is not None:
                    with lock:
                        found.seconds.append(time.time() - pending.pop(sku))
            if done.is_set() and time.time() - max(waiting.values(), default=0) > 60:
                found.missing = len(pending)
                return
            time.sleep(0.02)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    now = clock.now()
    for n in range(args.probes):
        sku = f"PROBE-{uuid.uuid4().hex[:10]}"
        order_id = f"probe-{n:05d}-{uuid.uuid4().hex[:6]}"
        story = OrderStory(order_id, f"probe-c-{n}", "p@example.com", ((sku, 1, 1000),), now)
        story.pay(now)
        (placed, _), (paid, at) = story.versions
        writer.put_item(TableName=orders, Item=order_image(placed, now))
        writer.put_item(TableName=orders, Item=order_image(paid, at))
        with lock:
            pending[sku] = time.time()
        time.sleep(1 / args.probe_rate)
    done.set()
    poller.join(timeout=120)
    return found


def floor(stack: StackProcess, updates: int, targets: int) -> float:
    """Bare conditional UpdateItems from one thread on a table of their own: updates/s."""
    client = stack.client("dynamodb")
    table = f"bench-floor-{uuid.uuid4().hex[:8]}"
    pk_sk_table(client, table)
    started = time.perf_counter()
    for n in range(updates):
        client.update_item(
            TableName=table,
            Key={"pk": {"S": f"AGG#{n % targets}"}, "sk": {"S": "COUNTS"}},
            UpdateExpression="ADD orders :one, gmv :amount",
            ConditionExpression="attribute_not_exists(sealed) OR sealed = :no",
            ExpressionAttributeValues={
                ":one": {"N": "1"},
                ":amount": {"N": "1000"},
                ":no": {"BOOL": False},
            },
        )
    return updates / (time.perf_counter() - started)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000, help="order writes (N)")
    parser.add_argument("--writers", type=int, default=4, help="threads writing orders")
    parser.add_argument("--customers", type=int, default=2000, help="signed-in customers")
    parser.add_argument("--probes", type=int, default=200, help="paced orders timed to figure")
    parser.add_argument("--probe-rate", type=float, default=10.0, help="probe orders a second")
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args()

    directory = Path(tempfile.mkdtemp(prefix="order-stream-"))
    stack = start_stack(
        args=["--no-demo-data", "--metering-dir", str(directory)],
        env={"SWEEP_INTERVAL_SECONDS": "3600"},
        timeout=180,
    )
    try:
        # One unmeasured order first, so the consumer's worker and clients are warm.
        warm = argparse.Namespace(**{**vars(args), "events": 20, "seed": args.seed + 1})
        throughput(stack, directory, warm)
        run = throughput(stack, directory, args)
        timed = lags(stack, args)
        floor_rate = floor(stack, min(run.updates, 20_000), targets=600)
    finally:
        stack.stop()
        shutil.rmtree(directory, ignore_errors=True)

    per_event_updates = run.updates / run.events
    floor_events = floor_rate / per_event_updates
    print(
        f"order stream: {run.events} order events ({run.paid} payments, placements and "
        f"refunds) through AnalyticsFunction on the local stack (DynamoDB Local streams, the "
        f"template's event source); {args.writers} writers, metering on"
    )
    print(f"{'':28}{'events/s':>10}{'WRU/event':>11}{'RRU/event':>11}{'updates/event':>15}")
    print(
        f"{'consumer':28}{run.per_second:>10.1f}{run.wru / run.events:>11.2f}"
        f"{run.rru / run.events:>11.2f}{per_event_updates:>15.2f}"
    )
    print(
        f"{'floor (bare UpdateItem)':28}{floor_events:>10.1f}{per_event_updates:>11.2f}"
        f"{0:>11.2f}{per_event_updates:>15.2f}"
    )
    print(f"ratio consumer / floor: {run.per_second / floor_events:.3f} (events/s)")
    print(
        f"floor: {floor_rate:.1f} conditional UpdateItem/s from one thread (one poller per "
        f"shard reads the stream), same DynamoDB Local"
    )
    if timed.seconds:
        print(
            f"payment-to-figure lag over {len(timed.seconds)} paced orders "
            f"({args.probe_rate:g}/s): p50 {percentile(timed.seconds, 0.5) * 1000:.0f} ms, "
            f"p99 {percentile(timed.seconds, 0.99) * 1000:.0f} ms, "
            f"max {max(timed.seconds) * 1000:.0f} ms, "
            f"mean {statistics.mean(timed.seconds) * 1000:.0f} ms"
        )
    print(
        f"the consumer was handed {run.handed} of the {run.events} records (the event "
        f"filters drop orders not yet paid); the day's figures grew by exactly the "
        f"{run.paid} payments and the refunds written"
    )
    if timed.missing:
        print(f"{timed.missing} probe(s) never reached the figures", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
