"""Cost per order: one complete order from empty cart to PAID and notified, in AWS units and $.

The local stack (``python -m infra.local``, no demo data) runs with its opt-in metering on
(``--metering-dir``, infra/local/metering.py): every function worker records each AWS call it
makes (DynamoDB read and write request units from ReturnConsumedCapacity, SQS messages sent)
and its handler time; the stack records every invocation where it dispatches one (HTTP, SQS
batch, schedule). Schedules fire every 3600 s, so the sweeper and the payment reconciler do not
run during the measurement (any schedule run that still lands in the window is shown apart).

Set-up (not counted): ops create one product with ``--lines`` SKUs. Then each repeat is a fresh
guest order, measured from its first request: ``POST /carts``; ``PUT /carts/{id}/items/{sku}``
per line; ``PUT /carts/{id}/shipping-address``; ``POST /orders`` (``tok_ok``, an
Idempotency-Key); ``GET /orders/{id}`` polled until PAID; then a wait until the payments
consumer has finished and the ``order.paid`` event is on the notifications queue. The polls are
the client's reads, attributed by API Gateway request id and reported apart from the order's
own cost. Figures are medians over ``--repeat`` orders.

Dollar figures use the list prices in PRICES (basis in PRICES_BASIS), printed next to them:
API Gateway, Lambda, DynamoDB and SQS, plus SES for the emails the notifications consumer sends
(also totalled without them); other AWS calls are listed, not priced.
Modelled rather than measured: the Lambda poller's SQS requests (one ReceiveMessage and one
DeleteMessageBatch per non-empty batch; idle long polls are a fixed cost per queue, not per
order), and billed Lambda duration (handler time measured here, rounded up to 1 ms, times the
function's MemorySize from template.yaml; AWS hardware and network differ from this machine).

    .venv/bin/python tests/bench/order_cost.py [--lines 2] [--repeat 3]
"""

from __future__ import annotations

import argparse
import math
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from stack_helpers import ADDRESS  # noqa: E402

from infra.local.functions import load_functions  # noqa: E402
from infra.local.harness import StackProcess, start_stack  # noqa: E402
from infra.local.metering import read_records  # noqa: E402
from infra.local.template import Resolver, load_template  # noqa: E402
from infra.ops.capacity import PRICES, PRICES_BASIS  # noqa: E402

OPS = ("bench-ops", ["ops"])
SWEEP_INTERVAL = "3600"
PAID_TIMEOUT = 60.0
SETTLE_QUIET = 1.0  # seconds without a new record before an order counts as finished

# The list prices (PRICES, with their basis in PRICES_BASIS) are infra/ops/capacity.py's, which
# the capacity plan prices its peaks with. Not fetched live: re-check before quoting dollars.
SES_SENDS = {("ses", "SendEmail"), ("ses", "SendRawEmail"), ("ses", "SendTemplatedEmail")}
SES_SENDS |= {("sesv2", "SendEmail")}
SQS_CHUNK = 64 * 1024


@dataclass
class Figures:
    """What one set of metering records adds up to."""

    invocations: Counter[tuple[str, str]] = field(default_factory=Counter)  # (function, source)
    handler_ms: Counter[str] = field(default_factory=Counter)
    gb_seconds: float = 0.0
    dynamodb_calls: Counter[tuple[str, str]] = field(default_factory=Counter)  # (fn, op)
    rru: defaultdict[tuple[str, str], float] = field(default_factory=lambda: defaultdict(float))
    wru: defaultdict[tuple[str, str], float] = field(default_factory=lambda: defaultdict(float))
    # Where the units went: by table (physical name) and by item (table, key text).
    table_calls: Counter[str] = field(default_factory=Counter)
    table_units: defaultdict[str, list[float]] = field(
        default_factory=lambda: defaultdict(lambda: [0.0, 0.0])
    )
    key_units: defaultdict[tuple[str, str], list[float]] = field(
        default_factory=lambda: defaultdict(lambda: [0.0, 0.0])
    )
    estimated_calls: int = 0
    corrected_calls: int = 0
    correction_wru: float = 0.0  # added to DynamoDB Local's figure (multi-item transactions)
    messages: Counter[tuple[str, str]] = field(default_factory=Counter)  # (fn, queue)
    sqs_send_requests: int = 0
    sqs_poller_requests: int = 0
    other_calls: Counter[tuple[str, str]] = field(default_factory=Counter)  # (service, op)
    api_requests: int = 0
    emails: int = 0  # SES sends (one recipient each in this flow)
    errors: Counter[str] = field(default_factory=Counter)

    @property
    def lambda_invocations(self) -> int:
        return sum(self.invocations.values())

    @property
    def total_rru(self) -> float:
        return sum(self.rru.values())

    @property
    def total_wru(self) -> float:
        return sum(self.wru.values())

    @property
    def sqs_requests(self) -> int:
        return self.sqs_send_requests + self.sqs_poller_requests

    def dollars(self) -> dict[str, float]:
        return {
            "API Gateway requests": self.api_requests * PRICES["apigw_request"],
            "Lambda requests": self.lambda_invocations * PRICES["lambda_request"],
            "Lambda duration": self.gb_seconds * PRICES["lambda_gb_second"],
            "DynamoDB reads": self.total_rru * PRICES["dynamodb_rru"],
            "DynamoDB writes": self.total_wru * PRICES["dynamodb_wru"],
            "SQS requests": self.sqs_requests * PRICES["sqs_request"],
            "SES emails": self.emails * PRICES["ses_email"],
        }


def add_up(records: list[dict[str, Any]], names: dict[str, str], memory: dict[str, int]) -> Figures:
    """Figures of these records; ``names`` maps physical function names to logical ids."""
    figures = Figures()
    for record in records:
        function = names.get(str(record.get("function")), str(record.get("function")))
        kind = record.get("kind")
        if kind == "dispatch":
            source = str(record["source"])
            figures.invocations[(function, source)] += 1
            if source == "api":
                figures.api_requests += 1
            if source == "sqs":
                # The poller: one ReceiveMessage, one DeleteMessageBatch per 10 records.
                figures.sqs_poller_requests += 1 + math.ceil(int(record["records"]) / 10)
            if record.get("outcome") != "ok":
                figures.errors[f"{function} {record.get('outcome')}"] += 1
        elif kind == "invoke":
            billed_ms = math.ceil(float(record["duration_ms"]))
            figures.handler_ms[function] += billed_ms
            figures.gb_seconds += billed_ms / 1000 * memory.get(function, 128) / 1024
        elif kind == "call":
            service, operation = str(record["service"]), str(record["operation"])
            if record.get("error"):
                figures.errors[f"{function} {operation} {record['error']}"] += 1
            if "rcu" in record:
                figures.dynamodb_calls[(function, operation)] += 1
                figures.rru[(function, operation)] += float(record["rcu"])
                figures.wru[(function, operation)] += float(record["wcu"])
                figures.estimated_calls += record.get("capacity") == "estimated"
                if "reported_wcu" in record:
                    figures.corrected_calls += 1
                    figures.correction_wru += float(record["wcu"]) - float(record["reported_wcu"])
                _add_breakdown(figures, record)
            elif "messages" in record:
                figures.messages[(function, str(record["queue"]))] += int(record["messages"])
                figures.sqs_send_requests += max(1, math.ceil(int(record["bytes"]) / SQS_CHUNK))
            elif (service, operation) in SES_SENDS and not record.get("error"):
                figures.emails += 1
            else:
                figures.other_calls[(service, operation)] += 1
    return figures


def _add_breakdown(figures: Figures, record: dict[str, Any]) -> None:
    """A DynamoDB call's units by table and by item key (the meter's ``by_table``/``items``)."""
    for table, (rcu, wcu) in (record.get("by_table") or {}).items():
        figures.table_calls[table] += 1
        figures.table_units[table][0] += float(rcu)
        figures.table_units[table][1] += float(wcu)
    for table, key, rcu, wcu in record.get("items") or []:
        if key is not None:
            figures.key_units[(table, key)][0] += float(rcu)
            figures.key_units[(table, key)][1] += float(wcu)


@dataclass
class OrderRun:
    """One measured order: its own figures, the polls' figures, what ran beside it."""

    order_id: str
    order: Figures
    polls: Figures
    poll_count: int
    schedule: Figures
    init_calls: int
    seconds_to_paid: float


class Shopper:
    """One guest order over HTTP, keeping the gateway request ids of the polls."""

    def __init__(self, stack: StackProcess) -> None:
        self.base = stack.base_url
        self.http = requests.Session()

    def _ok(self, response: requests.Response, status: int) -> dict[str, Any]:
        if response.status_code != status:
            raise RuntimeError(
                f"{response.request.method} {response.url}: {response.status_code} {response.text}"
            )
        body: dict[str, Any] = response.json()
        return body

    def order(self, skus: list[str]) -> tuple[str, dict[str, str]]:
        cart = self._ok(self.http.post(f"{self.base}/carts", timeout=60), 201)
        token = {"X-Cart-Token": cart["cart_token"]}
        cart_url = f"{self.base}/carts/{cart['cart_id']}"
        for sku in skus:
            line = self.http.put(
                f"{cart_url}/items/{sku}", json={"quantity": 1}, headers=token, timeout=60
            )
            self._ok(line, 200)
        self._ok(
            self.http.put(f"{cart_url}/shipping-address", json=ADDRESS, headers=token, timeout=60),
            200,
        )
        placed = self.http.post(
            f"{self.base}/orders",
            json={
                "cart_id": cart["cart_id"],
                "email": "bench-buyer@example.com",
                "payment": {"method": "card", "token": "tok_ok"},
            },
            headers={**token, "Idempotency-Key": uuid.uuid4().hex},
            timeout=60,
        )
        order = self._ok(placed, 202)
        return str(order["order_id"]), {"X-Order-Token": str(order["order_token"])}

    def poll_until_paid(
        self, order_id: str, headers: dict[str, str], interval: float
    ) -> tuple[set[str], float]:
        """Request ids of every poll, and seconds until PAID was seen."""
        ids: set[str] = set()
        started = time.monotonic()
        while True:
            reply = self.http.get(f"{self.base}/orders/{order_id}", headers=headers, timeout=60)
            ids.add(reply.headers.get("x-amzn-RequestId", ""))
            status = self._ok(reply, 200)["status"]
            if status == "PAID":
                return ids, time.monotonic() - started
            if status != "PENDING_PAYMENT" or time.monotonic() - started > PAID_TIMEOUT:
                raise RuntimeError(f"order {order_id} is {status}, not PAID")
            time.sleep(interval)


def consumed_queues(stack: StackProcess) -> set[str]:
    """Names of the queues some function of the template consumes (an SQS event)."""
    template = load_template(ROOT / "template.yaml")
    logical: set[str] = set()
    for spec in load_functions(template, Resolver(template), ROOT):
        for event in spec.events.values():
            if isinstance(event, dict) and event.get("Type") == "SQS":
                queue = (event.get("Properties") or {}).get("Queue") or {}
                target = queue.get("Fn::GetAtt") if isinstance(queue, dict) else None
                if target:
                    logical.add(
                        str(target[0] if isinstance(target, list) else target).split(".")[0]
                    )
    queues = stack.info["queues"]
    return {str(queues[name]).rsplit("/", 1)[-1] for name in logical if name in queues}


def paid_and_notified(payments: str, notifications_queue: str) -> Callable[[list[Any]], bool]:
    """Whether the payments consumer has sent order.paid to the notifications queue."""

    def sent(records: list[dict[str, Any]]) -> bool:
        return any(
            r.get("kind") == "call"
            and r.get("function") == payments
            and r.get("queue") == notifications_queue
            for r in records
        )

    return sent


def _settled(
    records: list[dict[str, Any]], done: Callable[[list[Any]], bool], consumed: set[str]
) -> bool:
    """``done`` says the flow has gone far enough, every message sent to a consumed queue has
    been delivered to its function, and no invocation is still running."""
    calls = [r for r in records if r.get("kind") == "call"]
    to_consumers = sum(int(r["messages"]) for r in calls if r.get("queue") in consumed)
    delivered = sum(
        int(r["records"])
        for r in records
        if r.get("kind") == "dispatch" and r["source"] == "sqs" and r["outcome"] == "ok"
    )
    finished = {r["request_id"] for r in records if r.get("kind") == "dispatch"}
    running = {
        r["request_id"] for r in records if r.get("kind") in ("call", "invoke") and r["request_id"]
    }
    return done(records) and delivered >= to_consumers and running <= finished


def wait_settled(
    directory: Path, mark: float, done: Callable[[list[Any]], bool], consumed: set[str]
) -> list[dict[str, Any]]:
    """The records since ``mark`` once the flow has settled (``_settled``), quiet a moment."""
    deadline = time.monotonic() + PAID_TIMEOUT
    seen = -1
    quiet_since = time.monotonic()
    while True:
        records = [r for r in read_records(directory) if float(r["t"]) >= mark]
        if len(records) != seen:
            seen, quiet_since = len(records), time.monotonic()
        quiet = time.monotonic() - quiet_since >= SETTLE_QUIET
        if quiet and _settled(records, done, consumed):
            return records
        if time.monotonic() > deadline:
            raise RuntimeError("the flow's consumers did not settle in time")
        time.sleep(0.2)


def measure(
    stack: StackProcess,
    directory: Path,
    skus: list[str],
    names: dict[str, str],
    memory: dict[str, int],
    poll_interval: float,
) -> OrderRun:
    physical = {logical: name for name, logical in names.items()}
    notifications_queue = str(stack.info["queues"]["NotificationsQueue"]).rsplit("/", 1)[-1]
    shopper = Shopper(stack)
    mark = time.time()
    order_id, headers = shopper.order(skus)
    poll_ids, to_paid = shopper.poll_until_paid(order_id, headers, poll_interval)
    done = paid_and_notified(physical["PaymentsFunction"], notifications_queue)
    records = wait_settled(directory, mark, done, consumed_queues(stack))
    schedule_ids = {
        r["request_id"]
        for r in records
        if r.get("kind") == "dispatch" and r["source"] == "schedule"
    }
    own = [r for r in records if r["request_id"] not in poll_ids | schedule_ids]
    return OrderRun(
        order_id=order_id,
        order=add_up([r for r in own if r["request_id"]], names, memory),
        polls=add_up([r for r in records if r["request_id"] in poll_ids], names, memory),
        poll_count=len(poll_ids),
        schedule=add_up([r for r in records if r["request_id"] in schedule_ids], names, memory),
        init_calls=sum(1 for r in own if not r["request_id"]),
        seconds_to_paid=to_paid,
    )


def product(stack: StackProcess, lines: int, stock: int = 1000) -> list[str]:
    """A new product of ``lines`` SKUs with ``stock`` units each, made by ops; its SKUs."""
    stem = f"COST-{uuid.uuid4().hex[:8].upper()}"
    skus = [f"{stem}-{n}" for n in range(1, lines + 1)]
    body = {
        "name": "Cost bench item",
        "skus": [
            {"sku": sku, "price": {"amount": 4900 + 100 * n, "currency": "CNY"}, "stock": stock}
            for n, sku in enumerate(skus)
        ],
    }
    created = requests.post(
        f"{stack.base_url}/admin/products", json=body, headers=stack.auth(*OPS), timeout=60
    )
    created.raise_for_status()
    return skus


# -- report ------------------------------------------------------------------------------------
def _median(values: list[float]) -> float:
    return float(statistics.median(values)) if values else 0.0


def _money(value: float) -> str:
    return f"{value:.8f}".rstrip("0").rstrip(".") if value < 0.01 else f"{value:.4f}"


def _counts_key(figures: Figures) -> tuple[Any, ...]:
    return (
        sorted(figures.invocations.items()),
        sorted(figures.dynamodb_calls.items()),
        sorted(figures.rru.items()),
        sorted(figures.wru.items()),
        sorted(figures.messages.items()),
    )


def report(runs: list[OrderRun], args: argparse.Namespace, memory: dict[str, int]) -> None:
    orders = [run.order for run in runs]
    first = orders[0]
    same = all(_counts_key(o) == _counts_key(first) for o in orders)

    def med(get: Any) -> float:
        return _median([float(get(o)) for o in orders])

    print(
        f"cost per order: one guest order of {args.lines} lines, empty cart to PAID and notified "
        f"(tok_ok), median of {args.repeat} fresh orders; local stack, no demo data, "
        f"schedules every {SWEEP_INTERVAL} s"
    )
    print(f"prices: {PRICES_BASIS}")
    print()
    print("Lambda invocations (the order's own; client polls below)")
    print(f"{'function':<22} {'trigger':<8} {'invocations':>11} {'handler ms':>10} {'MB':>5}")
    functions = sorted({key for o in orders for key in o.invocations})
    for function, source in functions:
        count = med(lambda o, k=(function, source): o.invocations[k])
        handler = med(lambda o, f=function: o.handler_ms[f])
        print(
            f"{function:<22} {source:<8} {count:>11g} {handler:>10.0f} {memory.get(function, 0):>5}"
        )
    print(f"{'total':<31} {med(lambda o: o.lambda_invocations):>11g}")
    print()
    print("DynamoDB calls by operation (request units from ReturnConsumedCapacity)")
    print(f"{'function':<22} {'operation':<19} {'calls':>5} {'RRU':>6} {'WRU':>6}")
    for function, operation in sorted({key for o in orders for key in o.dynamodb_calls}):
        key = (function, operation)
        print(
            f"{function:<22} {operation:<19} {med(lambda o, k=key: o.dynamodb_calls[k]):>5g} "
            f"{med(lambda o, k=key: o.rru[k]):>6g} {med(lambda o, k=key: o.wru[k]):>6g}"
        )
    calls = med(lambda o: sum(o.dynamodb_calls.values()))
    print(
        f"{'total':<42} {calls:>5g} {med(lambda o: o.total_rru):>6g} "
        f"{med(lambda o: o.total_wru):>6g}"
    )
    estimated = med(lambda o: o.estimated_calls)
    corrected = med(lambda o: o.corrected_calls)
    print(
        f"  units: {calls - estimated:g} call(s) from DynamoDB Local's ConsumedCapacity, of which "
        f"{corrected:g} TransactWriteItems rounded per item as AWS does "
        f"(+{med(lambda o: o.correction_wru):g} WRU); {estimated:g} estimated from the request "
        "(failed calls return none)"
    )
    print()
    sent = ", ".join(
        f"{function} -> {queue}: {med(lambda o, k=(function, queue): o.messages[k]):g}"
        for function, queue in sorted({key for o in orders for key in o.messages})
    )
    print(f"SQS messages sent: {med(lambda o: sum(o.messages.values())):g} ({sent})")
    print(
        f"SQS requests: {med(lambda o: o.sqs_send_requests):g} sends + "
        f"{med(lambda o: o.sqs_poller_requests):g} by the Lambda poller (receive + delete "
        "per batch; modelled)"
    )
    other = sorted({key for o in orders for key in o.other_calls})
    if other:
        listed = ", ".join(
            f"{s} {op} {med(lambda o, k=(s, op): o.other_calls[k]):g}" for s, op in other
        )
        print(f"other AWS calls (not priced): {listed}")
    print()
    quantities = {
        "API Gateway requests": (med(lambda o: o.api_requests), "$3.50 per M requests"),
        "Lambda requests": (med(lambda o: o.lambda_invocations), "$0.20 per M requests"),
        "Lambda duration": (med(lambda o: o.gb_seconds), "$0.0000166667 per GB-s"),
        "DynamoDB reads": (med(lambda o: o.total_rru), "$0.125 per M RRU"),
        "DynamoDB writes": (med(lambda o: o.total_wru), "$0.625 per M WRU"),
        "SQS requests": (med(lambda o: o.sqs_requests), "$0.40 per M requests"),
        "SES emails": (med(lambda o: o.emails), "$0.10 per 1,000 emails"),
    }
    dollars = {name: med(lambda o, n=name: o.dollars()[n]) for name in quantities}
    print(f"{'cost item':<21} {'per order':>10} {'list price':<24} {'$ per M orders':>14}")
    for name, (quantity, price) in quantities.items():
        unit = "GB-s" if name == "Lambda duration" else ""
        shown = f"{quantity:.4f}" if unit else f"{quantity:g}"
        print(f"{name:<21} {shown:>10} {price:<24} {dollars[name] * 1e6:>14.2f}")
    total = sum(dollars.values())
    infrastructure = total - dollars["SES emails"]
    print(f"{'total':<21} {'':>10} {'':<24} {total * 1e6:>14.2f}")
    print(
        f"= ${_money(total)} per order; ${infrastructure * 1e6:.2f} per M orders without the "
        "emails (API Gateway, Lambda, DynamoDB, SQS)"
    )
    print()
    poll_count = _median([run.poll_count for run in runs])
    per_poll = _median([sum(r.polls.dollars().values()) / max(1, r.poll_count) for r in runs])
    poll_rru = _median([r.polls.total_rru / max(1, r.poll_count) for r in runs])
    poll_calls = _median(
        [sum(r.polls.dynamodb_calls.values()) / max(1, r.poll_count) for r in runs]
    )
    print(
        f"client polls (GET /orders/{{id}} every {args.poll_interval} s until PAID; not in the "
        f"total): median {poll_count:g} polls, {_median([r.seconds_to_paid for r in runs]):.2f} s "
        f"to PAID; each poll = 1 API request, 1 Lambda invocation, {poll_calls:g} DynamoDB "
        f"call(s), {poll_rru:g} RRU = ${per_poll * 1e6:.2f} per M polls"
    )
    schedule_runs = sum(run.schedule.lambda_invocations for run in runs)
    init = sum(run.init_calls for run in runs)
    errors = sum((run.order.errors for run in runs), Counter[str]())
    print(
        f"excluded: {schedule_runs} schedule run(s) in the windows, {init} AWS call(s) made by "
        f"cold starts; counts identical in every repeat: {'yes' if same else 'NO'}"
        + (f"; errors: {dict(errors)}" if errors else "")
    )
    print(
        "not priced: CloudWatch Logs and metrics, X-Ray, data transfer, and any other AWS calls "
        "listed above (SMS delivery is priced per country)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=2, help="order lines (SKUs), 1 unit each")
    parser.add_argument("--repeat", type=int, default=3, help="fresh orders; medians printed")
    parser.add_argument(
        "--poll-interval", type=float, default=0.3, help="seconds between GET /orders polls"
    )
    args = parser.parse_args()

    with metered_stack("order-cost-") as (stack, directory, names, memory):
        skus = product(stack, args.lines)
        # One unmeasured order first, so every function has run once (first-call set-up, lazily
        # created clients) and each measured order is a warm one, as most are in production.
        measure(stack, directory, skus, names, memory, args.poll_interval)
        runs = [
            measure(stack, directory, skus, names, memory, args.poll_interval)
            for _ in range(args.repeat)
        ]
    report(runs, args, memory)
    return 0


@contextmanager
def metered_stack(
    prefix: str,
) -> Iterator[tuple[StackProcess, Path, dict[str, str], dict[str, int]]]:
    """The local stack with its metering on, no demo data and schedules out of the way; yields
    it, the metering directory, physical-to-logical function names and each MemorySize."""
    template = load_template(ROOT / "template.yaml")
    specs = load_functions(template, Resolver(template), ROOT)
    memory = {spec.logical_id: spec.memory for spec in specs}
    directory = Path(tempfile.mkdtemp(prefix=prefix))
    stack = start_stack(
        args=["--no-demo-data", "--metering-dir", str(directory)],
        env={"SWEEP_INTERVAL_SECONDS": SWEEP_INTERVAL},
        timeout=180,
    )
    try:
        names = {str(name): str(logical) for logical, name in stack.info["functions"].items()}
        yield stack, directory, names, memory
    finally:
        stack.stop()
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
