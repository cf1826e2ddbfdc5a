"""The capacity plan for a sale: what the measured cost of a hold, a refusal and an order takes
at a target rate, against AWS's default quotas, and what an hour of that peak costs.

Pure: ``plan(measured, targets, limits, prices)`` turns the figures ``tests/bench/capacity.py``
measured on the local stack (``docs/capacity.json``) into a :class:`Plan`, and ``render`` writes
``docs/capacity.md`` from it. Every number in the document comes from that JSON or from the
named constants below, each with its source; nothing is typed into the document by hand.

    .venv/bin/python tests/bench/capacity.py               # measure, write both files
    .venv/bin/python tests/bench/capacity.py --from-json   # re-render docs/capacity.md only

Rules the plan applies (AWS's, cited in ``LIMITS``):

- a stock shard is one partition key: its writes are held under 1,000 write units a second and
  its reads under 3,000 read units, times ``HEADROOM``; the holds of one SKU spread evenly over
  its shards, and a hold that reads every shard puts its reads on each of them;
- a table's request units a second are the sum over operations of rate x units per operation,
  against the on-demand table quota (40,000 each way) and the warm throughput a new on-demand
  table starts with (4,000 writes, 12,000 reads a second): above it, pre-warm;
- a function's concurrency is its invocations a second times the handler's mean duration
  (Little's law); Lambda adds at most 1,000 environments every 10 s per function;
- API Gateway counts every request of every route against one account-wide rate and burst.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from commerce.domain.inventory import MAX_SHARDS

# -- targets -------------------------------------------------------------------------------------
#: One SKU sold at this many units a second, one unit per hold (the issue's promise).
SALE_HOLDS_PER_SECOND: Final = 10_000.0
#: Buyers still asking once the SKU is sold out (or its shards dry), refused at the same rate.
SALE_REFUSALS_PER_SECOND: Final = 10_000.0
#: Orders a minute across the catalog.
ORDERS_PER_MINUTE: Final = 100_000.0
#: Share of a ceiling the plan lets a peak use: throttling starts before a quota's last unit.
HEADROOM: Final = 0.8


@dataclass(frozen=True)
class Limit:
    """One ceiling: its value, where it is written down, and how to raise it."""

    name: str
    value: float | None
    source: str
    quota_code: str | None = None
    how: str = "Service Quotas"


#: AWS's defaults and the payment providers' rates (looked up 2026-11-23; re-check before a sale).
LIMITS: Final[Mapping[str, Limit]] = {
    "partition_wru": Limit(
        "DynamoDB write units per partition key per second",
        1000,
        "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/warm-throughput-scenarios.html",
        how="fixed: spread the key (shards)",
    ),
    "partition_rru": Limit(
        "DynamoDB read units per partition key per second",
        3000,
        "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/warm-throughput-scenarios.html",
        how="fixed: spread the key (shards)",
    ),
    "table_wru": Limit(
        "DynamoDB on-demand write request units per table per second",
        40_000,
        "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/on-demand-capacity-mode-max-throughput.html",
        "L-AB614373",
    ),
    "table_rru": Limit(
        "DynamoDB on-demand read request units per table per second",
        40_000,
        "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/on-demand-capacity-mode-max-throughput.html",
        "L-CF0CBE56",
    ),
    "warm_wru": Limit(
        "DynamoDB warm throughput of a new on-demand table, writes per second",
        4000,
        "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/pre-warming-on-demand-capacity-mode.html",
        how="pre-warm: TableWarmWriteUnits",
    ),
    "warm_rru": Limit(
        "DynamoDB warm throughput of a new on-demand table, reads per second",
        12_000,
        "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/pre-warming-on-demand-capacity-mode.html",
        how="pre-warm: TableWarmReadUnits",
    ),
    "apigw_rps": Limit(
        "API Gateway requests per second, account and Region",
        10_000,
        "https://aws.amazon.com/about-aws/whats-new/2017/06/amazon-api-gateway-increases-account-level-throttle-limits-to-10000-requests-per-second-rps/",
        "L-8A5B8E43",
    ),
    "apigw_burst": Limit(
        "API Gateway burst, account and Region",
        5000,
        "https://aws.amazon.com/about-aws/whats-new/2017/06/amazon-api-gateway-increases-account-level-throttle-limits-to-10000-requests-per-second-rps/",
        "L-CDF5615A",
    ),
    "lambda_concurrency": Limit(
        "Lambda concurrent executions, account and Region",
        1000,
        "https://docs.aws.amazon.com/lambda/latest/dg/lambda-concurrency.html",
        "L-B99A9384",
    ),
    "lambda_scaling": Limit(
        "Lambda new execution environments per function every 10 s",
        1000,
        "https://docs.aws.amazon.com/lambda/latest/dg/scaling-behavior.html",
        how="fixed: warm up before the sale (ramp traffic)",
    ),
    "esm_sqs_concurrency": Limit(
        "SQS event source MaximumConcurrency (2 to 1,000)",
        1000,
        "https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html",
        how="fixed per event source",
    ),
    "esm_sqs_scaling": Limit(
        "SQS event source: batches added per minute (from 5)",
        300,
        "https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html",
        how="fixed: let the queue build before the peak",
    ),
    "sqs_standard": Limit(
        "SQS standard queue API calls per second",
        None,
        "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/standard-queues.html",
        how="nearly unlimited: nothing to raise",
    ),
    "sqs_in_flight": Limit(
        "SQS standard queue messages in flight",
        120_000,
        "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-queues.html",
        how="AWS Support",
    ),
    "stripe_writes": Limit(
        "Stripe live-mode write operations per second",
        100,
        "https://stripe.com/docs/rate-limits",
        how="Stripe Support, at least 6 weeks ahead",
    ),
    "stripe_reads": Limit(
        "Stripe live-mode read operations per second",
        100,
        "https://stripe.com/docs/rate-limits",
        how="Stripe Support, at least 6 weeks ahead",
    ),
    "wechat_pay_orders": Limit(
        "WeChat Pay unified order (统一下单) calls per second, cross-border merchants",
        600,
        "https://pay.weixin.qq.com/doc/global/v2/zh/4013637944",
        how="WeChat Pay account manager",
    ),
    "alipay_orders": Limit(
        "Alipay trade calls per second",
        None,
        "not published in Alipay's open documentation: per contract",
        how="Alipay account manager",
    ),
}

#: Where the prices come from (the same list prices tests/bench/order_cost.py uses).
PRICES_BASIS: Final = (
    "AWS us-east-1 on-demand list prices, recorded 2026-11-23 (DynamoDB on-demand after the "
    "Nov 2024 cut; SQS standard, first 1 B requests/month tier; Lambda x86_64, no free tier; "
    "API Gateway REST, first 333 M requests/month tier; SES outbound email, no free tier)"
)
#: USD per unit.
PRICES: Final[Mapping[str, float]] = {
    "dynamodb_rru": 0.125 / 1e6,
    "dynamodb_wru": 0.625 / 1e6,
    "sqs_request": 0.40 / 1e6,  # per 64 KB chunk of a request
    "lambda_request": 0.20 / 1e6,
    "lambda_gb_second": 0.0000166667,
    "apigw_request": 3.50 / 1e6,
    "ses_email": 0.10 / 1000,
}
#: Pre-warming is billed once, per unit raised above the table's current warm throughput
#: (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/warm-throughput.html);
#: its unit price is not recorded here (None): the plan gives the units to raise.
WARM_THROUGHPUT_PRICE_PER_UNIT: Final[float | None] = None


# -- what was measured ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Units:
    """Request units a second (or per operation): reads and writes."""

    rru: float = 0.0
    wru: float = 0.0

    def __add__(self, other: Units) -> Units:
        return Units(self.rru + other.rru, self.wru + other.wru)

    def times(self, factor: float) -> Units:
        return Units(self.rru * factor, self.wru * factor)


@dataclass(frozen=True)
class Operation:
    """What one operation costs, as measured (per operation, medians over repeats)."""

    name: str
    api_requests: float
    #: function -> invocations per operation.
    invocations: Mapping[str, float]
    #: function -> mean handler milliseconds of one invocation.
    duration_ms: Mapping[str, float]
    #: function -> MemorySize in MB.
    memory_mb: Mapping[str, int]
    #: function -> what invoked it (api, sqs, stream).
    sources: Mapping[str, str]
    dynamodb_requests: float
    #: table -> units per operation.
    tables: Mapping[str, Units]
    sqs_messages: Mapping[str, float] = field(default_factory=dict)
    sqs_requests: float = 0.0
    provider_calls: float = 0.0
    #: The stock shards: write units an operation spends on the shard it takes from, read
    #: units on each shard it reads, how many shards it reads, and whether that is every one.
    shard_wru: float = 0.0
    shard_rru: float = 0.0
    shards_read: float = 0.0
    reads_every_shard: bool = False

    @property
    def total(self) -> Units:
        return sum(self.tables.values(), Units())

    @property
    def gb_seconds(self) -> float:
        return sum(
            count * self.duration_ms.get(fn, 0.0) / 1000 * self.memory_mb.get(fn, 128) / 1024
            for fn, count in self.invocations.items()
        )

    @classmethod
    def from_json(cls, name: str, raw: Mapping[str, Any]) -> Operation:
        shard = raw.get("stock_shard") or {}
        return cls(
            name=name,
            api_requests=float(raw["api_requests"]),
            invocations={k: float(v) for k, v in raw["invocations"].items()},
            duration_ms={k: float(v) for k, v in raw["duration_ms"].items()},
            memory_mb={k: int(v) for k, v in raw["memory_mb"].items()},
            sources={k: str(v) for k, v in (raw.get("sources") or {}).items()},
            dynamodb_requests=float(raw["dynamodb_requests"]),
            tables={t: Units(float(u["rru"]), float(u["wru"])) for t, u in raw["tables"].items()},
            sqs_messages={k: float(v) for k, v in (raw.get("sqs_messages") or {}).items()},
            sqs_requests=float(raw.get("sqs_requests", 0)),
            provider_calls=float(raw.get("provider_calls", 0)),
            shard_wru=float(shard.get("wru", 0)),
            shard_rru=float(shard.get("rru_per_shard_read", 0)),
            shards_read=float(shard.get("shards_read", 0)),
            reads_every_shard=bool(shard.get("reads_every_shard", False)),
        )


# -- the plan ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Load:
    """What a scenario asks of every part per second."""

    name: str
    rates: Mapping[str, float]  # operation -> per second
    api_rps: float
    tables: Mapping[str, Units]
    concurrency: Mapping[str, float]  # function -> concurrent executions
    sources: Mapping[str, str]  # function -> what invokes it
    invocations: Mapping[str, float]  # function -> per second
    sqs_messages: Mapping[str, float]
    sqs_requests: float
    provider_calls: float
    gb_seconds: float
    dynamodb_requests: float

    @property
    def total_concurrency(self) -> float:
        return sum(self.concurrency.values())

    def seconds_to_scale(self, function: str, limits: Mapping[str, Limit]) -> float:
        """From idle to the function's concurrency: an SQS event source starts 5 batches and
        adds at most 300 a minute; any other trigger gets 1,000 environments at once, then
        1,000 more each 10 s."""
        concurrency = self.concurrency.get(function, 0.0)
        if self.sources.get(function) == "sqs":
            per_minute = float(limits["esm_sqs_scaling"].value or 300)
            return 60.0 * max(0.0, concurrency - 5) / per_minute
        steps = math.ceil(concurrency / float(limits["lambda_scaling"].value or 1000))
        return 10.0 * max(0, steps - 1)

    def cost_per_hour(self, prices: Mapping[str, float]) -> dict[str, float]:
        units = sum(self.tables.values(), Units())
        hour = 3600.0
        return {
            "API Gateway requests": self.api_rps * hour * prices["apigw_request"],
            "Lambda requests": sum(self.invocations.values()) * hour * prices["lambda_request"],
            "Lambda duration": self.gb_seconds * hour * prices["lambda_gb_second"],
            "DynamoDB reads": units.rru * hour * prices["dynamodb_rru"],
            "DynamoDB writes": units.wru * hour * prices["dynamodb_wru"],
            "SQS requests": self.sqs_requests * hour * prices["sqs_request"],
        }


def load(name: str, rates: Mapping[str, float], ops: Mapping[str, Operation]) -> Load:
    """The per-second load of running each operation at its rate."""
    tables: dict[str, Units] = {}
    concurrency: dict[str, float] = {}
    invocations: dict[str, float] = {}
    messages: dict[str, float] = {}
    sources: dict[str, str] = {}
    for op_name, rate in rates.items():
        op = ops[op_name]
        sources.update(op.sources)
        for table, units in op.tables.items():
            tables[table] = tables.get(table, Units()) + units.times(rate)
        for fn, count in op.invocations.items():
            invocations[fn] = invocations.get(fn, 0.0) + rate * count
            seconds = op.duration_ms.get(fn, 0.0) / 1000
            concurrency[fn] = concurrency.get(fn, 0.0) + rate * count * seconds
        for queue, count in op.sqs_messages.items():
            messages[queue] = messages.get(queue, 0.0) + rate * count
    return Load(
        name=name,
        rates=dict(rates),
        api_rps=sum(rate * ops[o].api_requests for o, rate in rates.items()),
        tables=dict(sorted(tables.items())),
        concurrency=dict(sorted(concurrency.items())),
        sources=sources,
        invocations=dict(sorted(invocations.items())),
        sqs_messages=dict(sorted(messages.items())),
        sqs_requests=sum(rate * ops[o].sqs_requests for o, rate in rates.items()),
        provider_calls=sum(rate * ops[o].provider_calls for o, rate in rates.items()),
        gb_seconds=sum(rate * ops[o].gb_seconds for o, rate in rates.items()),
        dynamodb_requests=sum(rate * ops[o].dynamodb_requests for o, rate in rates.items()),
    )


@dataclass(frozen=True)
class Shards:
    """How many stock shards one SKU needs for its holds, and what each then carries."""

    needed: int
    per_shard_wru: float
    per_shard_rru: float
    reads_fit: bool  # the reads on each shard stay under the read ceiling


def shards_for(
    holds_per_second: float, op: Operation, limits: Mapping[str, Limit], headroom: float
) -> Shards:
    """Shards so that no shard's writes pass ``headroom`` of the per-key write ceiling; the
    reads are checked, not solved: a hold that reads every shard loads each with all holds."""
    write_ceiling = float(limits["partition_wru"].value or 0) * headroom
    read_ceiling = float(limits["partition_rru"].value or 0) * headroom
    needed = max(1, math.ceil(holds_per_second * op.shard_wru / write_ceiling))
    # Every hold reads every shard: each carries all holds' reads, however many there are.
    # Otherwise the shards a hold reads spread like its writes.
    reads = holds_per_second * op.shard_rru
    per_shard_rru = reads if op.reads_every_shard else reads * min(op.shards_read, needed) / needed
    return Shards(
        needed=needed,
        per_shard_wru=holds_per_second * op.shard_wru / needed,
        per_shard_rru=per_shard_rru,
        reads_fit=per_shard_rru <= read_ceiling,
    )


@dataclass(frozen=True)
class Quota:
    """A quota a sale needs raised (or not): default, needed, how."""

    limit: Limit
    needed: float

    @property
    def raise_it(self) -> bool:
        return self.limit.value is not None and self.needed > self.limit.value


@dataclass(frozen=True)
class Plan:
    measured: Mapping[str, Any]
    ops: Mapping[str, Operation]
    sale: Load
    orders: Load
    shards: Shards
    quotas: list[Quota]
    warm: dict[str, Units]  # table -> warm throughput to set (0 where the default covers it)
    headroom: float
    limits: Mapping[str, Limit]
    prices: Mapping[str, float]


def _need(value: float, headroom: float) -> float:
    """The quota that carries ``value`` with ``headroom`` spare."""
    return math.ceil(value / headroom)


def plan(
    measured: Mapping[str, Any],
    *,
    holds_per_second: float = SALE_HOLDS_PER_SECOND,
    refusals_per_second: float = SALE_REFUSALS_PER_SECOND,
    orders_per_minute: float = ORDERS_PER_MINUTE,
    headroom: float = HEADROOM,
    limits: Mapping[str, Limit] = LIMITS,
    prices: Mapping[str, float] = PRICES,
) -> Plan:
    """The plan for the measured costs (``docs/capacity.json``'s ``operations``)."""
    ops = {name: Operation.from_json(name, raw) for name, raw in measured["operations"].items()}
    sale = load("sale", {"hold": holds_per_second, "refusal": refusals_per_second}, ops)
    orders = load("orders", {"order": orders_per_minute / 60}, ops)
    shards = shards_for(holds_per_second, ops["hold"], limits, headroom)
    peak_tables: dict[str, Units] = {}
    for scenario in (sale, orders):
        for table, units in scenario.tables.items():
            seen = peak_tables.get(table, Units())
            peak_tables[table] = Units(max(seen.rru, units.rru), max(seen.wru, units.wru))
    warm = {
        table: Units(
            _need(u.rru, headroom) if u.rru > (limits["warm_rru"].value or 0) * headroom else 0,
            _need(u.wru, headroom) if u.wru > (limits["warm_wru"].value or 0) * headroom else 0,
        )
        for table, u in peak_tables.items()
    }
    peak = max((sale, orders), key=lambda s: s.api_rps)
    quotas = [
        Quota(limits["table_wru"], _need(max(u.wru for u in peak_tables.values()), headroom)),
        Quota(limits["table_rru"], _need(max(u.rru for u in peak_tables.values()), headroom)),
        Quota(limits["apigw_rps"], _need(peak.api_rps, headroom)),
        Quota(limits["apigw_burst"], _need(peak.api_rps / 2, headroom)),
        Quota(
            limits["lambda_concurrency"],
            _need(max(sale.total_concurrency, orders.total_concurrency), headroom),
        ),
        Quota(
            limits["esm_sqs_concurrency"],
            _need(
                max(
                    (
                        c
                        for s in (sale, orders)
                        for f, c in s.concurrency.items()
                        if s.sources.get(f) == "sqs"
                    ),
                    default=0.0,
                ),
                headroom,
            ),
        ),
        Quota(limits["stripe_writes"], _need(orders.provider_calls, headroom)),
        Quota(limits["wechat_pay_orders"], _need(orders.provider_calls, headroom)),
        Quota(limits["alipay_orders"], _need(orders.provider_calls, headroom)),
    ]
    return Plan(measured, ops, sale, orders, shards, quotas, warm, headroom, limits, prices)


# -- the document --------------------------------------------------------------------------------
def _n(value: float) -> str:
    """A figure for the document: whole numbers with separators, small ones with 2 decimals."""
    if value == 0:
        return "0"
    if abs(value) >= 100 or float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.2f}"


def _usd(value: float) -> str:
    return f"${value:,.2f}" if value >= 0.01 else f"${value:.4f}"


def _fit(value: float, limit: float | None, headroom: float) -> str:
    if limit is None:
        return "no published ceiling"
    share = value / limit
    verdict = "fits" if share <= headroom else "RAISE" if share > 1 else "tight"
    return f"{share:.0%} of {_n(limit)}: {verdict}"


def _scenario(p: Plan, scenario: Load, title: str) -> list[str]:
    limits, h = p.limits, p.headroom
    rates = ", ".join(f"{p.ops[o].name} {_n(r)}/s" for o, r in scenario.rates.items())
    lines = [f"### {title}", "", f"Operations: {rates}.", ""]
    lines += [
        "| part | per second | against the default |",
        "|---|---|---|",
        f"| API Gateway requests | {_n(scenario.api_rps)} | "
        f"{_fit(scenario.api_rps, limits['apigw_rps'].value, h)} |",
    ]
    for table, units in scenario.tables.items():
        lines.append(
            f"| {table} writes (WRU) | {_n(units.wru)} | "
            f"{_fit(units.wru, limits['table_wru'].value, h)} |"
        )
        lines.append(
            f"| {table} reads (RRU) | {_n(units.rru)} | "
            f"{_fit(units.rru, limits['table_rru'].value, h)} |"
        )
    lines.append(f"| DynamoDB requests, all tables | {_n(scenario.dynamodb_requests)} | |")
    for queue, count in scenario.sqs_messages.items():
        lines.append(f"| SQS messages to {queue} | {_n(count)} | standard queue: no ceiling |")
    if scenario.provider_calls:
        lines.append(
            f"| payment provider calls | {_n(scenario.provider_calls)} | "
            f"Stripe {_fit(scenario.provider_calls, limits['stripe_writes'].value, h)}; "
            f"WeChat Pay {_fit(scenario.provider_calls, limits['wechat_pay_orders'].value, h)}; "
            "Alipay: per contract |"
        )
    lines += [
        "",
        "| function | trigger | invocations/s | mean handler ms | concurrency | "
        "seconds to scale there |",
        "|---|---|---|---|---|---|",
    ]
    for fn, concurrency in scenario.concurrency.items():
        ms = [p.ops[o].duration_ms.get(fn) for o in scenario.rates if fn in p.ops[o].duration_ms]
        mean_ms = sum(m for m in ms if m is not None) / max(1, len(ms))
        lines.append(
            f"| {fn} | {scenario.sources.get(fn, '')} | {_n(scenario.invocations[fn])} | "
            f"{_n(mean_ms)} | {_n(concurrency)} | "
            f"{_n(scenario.seconds_to_scale(fn, limits))} |"
        )
    lines.append(
        f"| all functions | | {_n(sum(scenario.invocations.values()))} | | "
        f"{_n(scenario.total_concurrency)} | "
        f"{_fit(scenario.total_concurrency, limits['lambda_concurrency'].value, h)} |"
    )
    cost = scenario.cost_per_hour(p.prices)
    lines += ["", "| cost item | per hour of peak |", "|---|---|"]
    lines += [f"| {item} | {_usd(value)} |" for item, value in cost.items()]
    lines += [f"| **total** | **{_usd(sum(cost.values()))}** |", ""]
    return lines


def render(p: Plan) -> str:
    """docs/capacity.md."""
    m = p.measured
    hold, refusal, order = p.ops["hold"], p.ops["refusal"], p.ops["order"]
    s = p.shards
    limits = p.limits
    ceiling = float(limits["partition_wru"].value or 0) * p.headroom
    lines = [
        "# Capacity plan",
        "",
        "Generated by `tests/bench/capacity.py` from the measured costs in "
        "[`capacity.json`](capacity.json) and the limits and prices named in "
        "`infra/ops/capacity.py`; do not edit by hand. Re-measure after any change to the hold, "
        "checkout or payment path (`.venv/bin/python tests/bench/capacity.py`); "
        "`--from-json` re-renders this page without measuring.",
        "",
        f"Measured {m['measured_at']} at commit `{m['commit']}` on the local stack "
        f"({m['machine']}; load average {m['load']}), median of {m['repeat']} runs per "
        "operation. Durations are this machine's handler times: AWS's differ, so concurrency "
        "and GB-seconds are estimates; request counts and units do not depend on the machine.",
        "",
        "## Measured cost per operation",
        "",
        "| | " + " | ".join(op.name for op in (hold, refusal, order)) + " |",
        "|---|---|---|---|",
    ]

    def row(label: str, get: Any) -> str:
        return f"| {label} | " + " | ".join(_n(get(op)) for op in (hold, refusal, order)) + " |"

    lines += [
        row("API Gateway requests", lambda o: o.api_requests),
        row("Lambda invocations", lambda o: sum(o.invocations.values())),
        row("DynamoDB requests", lambda o: o.dynamodb_requests),
        row("read units (RRU)", lambda o: o.total.rru),
        row("write units (WRU)", lambda o: o.total.wru),
        row("WRU on the stock shard taken from", lambda o: o.shard_wru),
        row("RRU on each stock shard read", lambda o: o.shard_rru),
        row("SQS messages", lambda o: sum(o.sqs_messages.values())),
        row("payment provider calls", lambda o: o.provider_calls),
        row("Lambda GB-seconds", lambda o: o.gb_seconds),
    ]
    for op in (hold, refusal, order):
        described = m["operations"][op.name].get("description", "")
        lines.append("")
        lines.append(f"- **{op.name}**: {described}")
        per_table = "; ".join(
            f"{t} {_n(u.rru)} RRU / {_n(u.wru)} WRU" for t, u in op.tables.items()
        )
        calls = ", ".join(f"{fn} {_n(c)}" for fn, c in op.invocations.items())
        lines.append(f"  By table: {per_table}. Invocations: {calls}.")
    lines += [
        "",
        f"## One SKU at {_n(p.sale.rates['hold'])} units a second",
        "",
        f"**Shards: {s.needed}.** A hold spends {_n(hold.shard_wru)} WRU on the shard it takes "
        f"from (a transactional write counts twice); a shard key takes "
        f"{_n(float(limits['partition_wru'].value or 0))} WRU/s, of which the plan uses "
        f"{p.headroom:.0%}: ceil({_n(p.sale.rates['hold'])} x {_n(hold.shard_wru)} / "
        f"{_n(float(limits['partition_wru'].value or 0) * p.headroom)}) = {s.needed}. "
        f"Each shard then takes {_n(s.per_shard_wru)} WRU/s and {_n(s.per_shard_rru)} RRU/s "
        + (
            "(a hold reads every shard, so more shards do not lower a shard's reads); "
            if hold.reads_every_shard
            else "; "
        )
        + (
            "the reads fit under the read ceiling."
            if s.reads_fit
            else f"the reads pass {p.headroom:.0%} of "
            f"{_n(float(limits['partition_rru'].value or 0))} RRU/s per key: shards alone "
            "cannot carry this rate until a hold stops reading every shard."
        ),
        (
            f"Set them with `PUT /admin/inventory/{{sku}}/shards` before the sale "
            f"(docs/inventory.md; at most {MAX_SHARDS} a SKU)."
            if s.needed <= MAX_SHARDS
            else f"That is more than the {MAX_SHARDS} shards a SKU may have: at most "
            f"{_n(MAX_SHARDS * ceiling / max(hold.shard_wru, 1e-9))} "
            "holds a second fit until the write per hold shrinks."
        ),
        "",
    ]
    lines += _scenario(p, p.sale, "The sale's load (holds and refusals of one SKU)")
    lines += [
        f"## {_n(p.orders.rates['order'] * 60)} orders a minute across the catalog",
        "",
        f"{_n(p.orders.rates['order'])} orders a second, each as measured (cart, lines, "
        "address, checkout, payment through the queue, notification).",
        "",
    ]
    lines += _scenario(p, p.orders, "The orders' load")
    lines += [
        "## Quotas to raise before a sale",
        "",
        f"Needed = the peak of the two scenarios with {1 - p.headroom:.0%} spare.",
        "",
        "| quota | default | needed | raise? | how |",
        "|---|---|---|---|---|",
    ]
    for q in p.quotas:
        default = "none published" if q.limit.value is None else _n(q.limit.value)
        needed = "set per event source" if q.needed == 0 else _n(q.needed)
        how = q.limit.how + (f" (`{q.limit.quota_code}`)" if q.limit.quota_code else "")
        verdict = "yes" if q.raise_it else "ask" if q.limit.value is None else "no"
        lines.append(f"| {q.limit.name} | {default} | {needed} | {verdict} | {how} |")
    lines += [
        "",
        "Service Quotas requests: `aws service-quotas request-service-quota-increase "
        "--service-code <dynamodb|apigateway|lambda> --quota-code <code> --desired-value <n>`.",
        "",
        "## Warm throughput to set (`TableWarmWriteUnits` / `TableWarmReadUnits`)",
        "",
        f"A new on-demand table serves {_n(float(limits['warm_wru'].value or 0))} writes and "
        f"{_n(float(limits['warm_rru'].value or 0))} reads a second at once; above that it "
        "doubles its previous peak within 30 minutes, too slow for a sale's first second.",
        "",
        "| table | peak WRU/s | peak RRU/s | WriteUnitsPerSecond | ReadUnitsPerSecond |",
        "|---|---|---|---|---|",
    ]
    peaks = {
        t: Units(
            max(p.sale.tables.get(t, Units()).rru, p.orders.tables.get(t, Units()).rru),
            max(p.sale.tables.get(t, Units()).wru, p.orders.tables.get(t, Units()).wru),
        )
        for t in p.warm
    }
    for table, warm in p.warm.items():
        lines.append(
            f"| {table} | {_n(peaks[table].wru)} | {_n(peaks[table].rru)} | "
            f"{_n(warm.wru) if warm.wru else 'default'} | "
            f"{_n(warm.rru) if warm.rru else 'default'} |"
        )
    price = WARM_THROUGHPUT_PRICE_PER_UNIT
    lines += [
        "",
        "The template takes one pair for its sale tables (Inventory, Carts, Orders, "
        "Idempotency): set the largest figure of the table that needs most.",
        (
            f"Pre-warming is billed once per unit raised: {_usd(price)} a unit."
            if price is not None
            else "Pre-warming is billed once, per unit raised above the table's current warm "
            "throughput; its unit price is not recorded in `infra/ops/capacity.py` "
            "(`WARM_THROUGHPUT_PRICE_PER_UNIT`): take it from the DynamoDB pricing page before "
            "a sale."
        ),
        "",
        "## Cost per hour of peak",
        "",
        "| scenario | API Gateway | Lambda | DynamoDB | SQS | total |",
        "|---|---|---|---|---|---|",
    ]
    for scenario in (p.sale, p.orders):
        c = scenario.cost_per_hour(p.prices)
        lines.append(
            f"| {scenario.name} | {_usd(c['API Gateway requests'])} | "
            f"{_usd(c['Lambda requests'] + c['Lambda duration'])} | "
            f"{_usd(c['DynamoDB reads'] + c['DynamoDB writes'])} | {_usd(c['SQS requests'])} | "
            f"{_usd(sum(c.values()))} |"
        )
    lines += ["", f"Prices: {PRICES_BASIS}.", "", "## Limits and their sources", ""]
    lines += ["| limit | value | source |", "|---|---|---|"]
    for limit in limits.values():
        value = "none published" if limit.value is None else _n(limit.value)
        lines.append(f"| {limit.name} | {value} | {limit.source} |")
    lines += [
        "",
        "Stripe's current page states the live-mode limit as 100 operations a second overall "
        "and 25 requests a second per endpoint unless stated otherwise: a PaymentIntent "
        "create per order meets the per-endpoint figure first.",
        "",
    ]
    return "\n".join(lines)
