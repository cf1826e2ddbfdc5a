"""What each API request cost in DynamoDB, from the local stack's metering, grouped by answer.

A benchmark that ran with ``--metering-dir DIR`` keeps each response's ``x-amzn-RequestId`` and
status; the metering records every AWS call a function made under that request id. Grouped by
the status the client saw (200 a unit held, 409 refused, ...), the figures say what a hold and
what a refusal cost: DynamoDB requests, read units, write units.
"""

from __future__ import annotations

import statistics
import sys
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from infra.local.metering import read_records, select  # noqa: E402


@dataclass(frozen=True)
class Cost:
    """The DynamoDB cost of the requests that got one answer."""

    requests: int  # how many API requests
    median_calls: float
    max_calls: int
    mean_rru: float
    mean_wru: float
    calls: tuple[int, ...] = ()  # each request's DynamoDB calls, sorted

    def within(self, bound: int) -> int:
        """How many requests made at most ``bound`` DynamoDB calls."""
        return sum(1 for n in self.calls if n <= bound)

    def line(self, bound: int | None = None) -> str:
        """The figures in words; with ``bound``, how many requests stayed within it."""
        share = ""
        if bound is not None and self.requests:
            share = f"; {self.within(bound)} of {self.requests} made <= {bound}"
        return (
            f"{self.median_calls:.0f} DynamoDB requests (max {self.max_calls}), "
            f"{self.mean_rru:.1f} RRU, {self.mean_wru:.1f} WRU on average over {self.requests}"
            + share
        )


def costs(directory: Path, answers: Mapping[str, str]) -> dict[str, Cost]:
    """Per answer (``answers``: request id -> answer label), the cost of its requests."""
    calls: dict[str, list[dict[str, object]]] = defaultdict(list)
    for record in select(read_records(directory), "call"):
        request_id = record.get("request_id")
        if (
            isinstance(request_id, str)
            and request_id in answers
            and record.get("service") == ("dynamodb")
        ):
            calls[request_id].append(record)
    by_answer: dict[str, list[str]] = defaultdict(list)
    for request_id, answer in answers.items():
        by_answer[answer].append(request_id)
    return {answer: _cost(ids, calls) for answer, ids in by_answer.items()}


def _cost(ids: Iterable[str], calls: Mapping[str, list[dict[str, object]]]) -> Cost:
    counts, rru, wru = [], [], []
    for request_id in ids:
        made = calls.get(request_id, [])
        counts.append(len(made))
        rru.append(sum(_number(call.get("rcu")) for call in made))
        wru.append(sum(_number(call.get("wcu")) for call in made))
    return Cost(
        requests=len(counts),
        median_calls=statistics.median(counts) if counts else 0.0,
        max_calls=max(counts, default=0),
        mean_rru=statistics.fmean(rru) if rru else 0.0,
        mean_wru=statistics.fmean(wru) if wru else 0.0,
        calls=tuple(sorted(counts)),
    )


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float) else 0.0
