"""One DynamoDB transaction whose cancellation reasons can be read by name, not by position.

PynamoDB sends a TransactWrite's items grouped by kind (condition checks, deletes, puts, then
updates), whatever order they were added in, and DynamoDB reports one cancellation reason per
item in that sent order. This wrapper labels each item as it is added and maps the reasons back
to the labels, so repositories can say "the SKU record failed its condition" without counting.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import Any

from pynamodb.exceptions import CancellationReason, TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from commerce.errors import TooManyRequests
from commerce.settings import get_settings
from commerce.store import kit
from commerce.store.tables.connection import SharedSessionConnection

_ATTEMPTS = 5
#: The first pause's ceiling between sends that collided (each later one may double).
_BACKOFF_SECONDS = 0.02
#: DynamoDB's ceiling on the items of one TransactWriteItems call.
MAX_ITEMS = 100


@lru_cache(maxsize=1)
def _connection() -> SharedSessionConnection:
    """One connection (and botocore client) per process, on the tables' shared session."""
    return SharedSessionConnection(region=get_settings().region)


@dataclass(frozen=True)
class Failure:
    """Why one labelled item cancelled the transaction; ``item`` is its old image if asked for."""

    label: str
    code: str
    item: dict[str, Any] | None


@dataclass
class LabelledTransaction:
    """Collects labelled deletes, puts and updates, then commits them as one TransactWriteItems
    call."""

    _checks: list[tuple[str, type[Model], str, str | None, Condition]] = field(default_factory=list)
    _deletes: list[tuple[str, Model, Condition | None]] = field(default_factory=list)
    _puts: list[tuple[str, Model, Condition | None, str | None]] = field(default_factory=list)
    _updates: list[tuple[str, Model, list[Action], Condition | None, str | None]] = field(
        default_factory=list
    )

    def check(
        self,
        label: str,
        model: type[Model],
        hash_key: str,
        range_key: str | None,
        condition: Condition,
    ) -> None:
        """A condition on an item the transaction does not write (a ConditionCheck)."""
        self._checks.append((label, model, hash_key, range_key, condition))

    def delete(self, label: str, item: Model, condition: Condition | None = None) -> None:
        self._deletes.append((label, item, condition))

    def put(
        self,
        label: str,
        item: Model,
        condition: Condition | None = None,
        *,
        old_image: bool = False,
    ) -> None:
        self._puts.append((label, item, condition, "ALL_OLD" if old_image else None))

    def update(
        self,
        label: str,
        item: Model,
        actions: list[Action],
        condition: Condition | None = None,
        *,
        old_image: bool = False,
    ) -> None:
        self._updates.append((label, item, actions, condition, "ALL_OLD" if old_image else None))

    @property
    def size(self) -> int:
        return len(self._checks) + len(self._deletes) + len(self._puts) + len(self._updates)

    def _labels_in_sent_order(self) -> list[str]:
        return (
            [c[0] for c in self._checks]
            + [d[0] for d in self._deletes]
            + [p[0] for p in self._puts]
            + [u[0] for u in self._updates]
        )

    def commit(self, *, throttling_fails: bool = False) -> list[Failure]:
        """Commit; on a cancellation return the failing items (empty list means success).

        A cancellation caused only by other transactions touching the same items
        (``TransactionConflict``), or one where DynamoDB throttled an item (``ThrottlingError``
        on an on-demand table's hot key: the SDK never retries a cancelled transaction) is
        retried with backoff: nothing was written, so retrying is safe. If contention or
        throttling outlasts the retries the caller gets 429 with Retry-After; with
        ``throttling_fails`` throttled items come back as failures at once instead. Errors
        other than a cancellation propagate.
        """
        if self.size > MAX_ITEMS:
            raise ValueError(f"a transaction holds at most {MAX_ITEMS} items, not {self.size}")
        return kit.retry_on_conflict(
            partial(self._attempt, throttling_fails=throttling_fails),
            give_up=lambda: TooManyRequests(
                1, "Too many concurrent changes to the same items; retry shortly"
            ),
            attempts=_ATTEMPTS,
            base_seconds=_BACKOFF_SECONDS,
        )

    def _attempt(self, _: int, *, throttling_fails: bool) -> list[Failure] | kit.Retry:
        """One send: no failures, the failures of a refusal, or RETRY when other transactions
        only collided with this one or DynamoDB throttled an item (nothing was written, so
        sending again is safe). With ``throttling_fails`` a throttled item is a failure the
        caller sees (``ThrottlingError`` on its label): it may have somewhere else to go."""
        try:
            self._send()
        except TransactWriteError as error:
            if error.cause_response_code != "TransactionCanceledException":
                raise
            failures = self._failures(error.cancellation_reasons)
            if any(f.code in kit.THROTTLED for f in failures):
                return failures if throttling_fails else kit.RETRY
            if all(f.code == kit.TRANSACTION_CONFLICT for f in failures):
                return kit.RETRY
            return failures
        return []

    def _send(self) -> None:
        with TransactWrite(connection=_connection()) as transaction:
            for _, model, hash_key, range_key, check in self._checks:
                transaction.condition_check(model, hash_key, range_key, condition=check)
            for _, item, condition in self._deletes:
                transaction.delete(item, condition=condition)
            for _, item, condition, old in self._puts:
                transaction.save(item, condition=condition, return_values=old)
            for _, item, actions, condition, old in self._updates:
                transaction.update(item, actions, condition=condition, return_values=old)

    def _failures(self, reasons: list[CancellationReason | None]) -> list[Failure]:
        failures = [
            Failure(label=label, code=reason.code, item=reason.raw_item)
            for label, reason in zip(self._labels_in_sent_order(), reasons, strict=False)
            if reason is not None and reason.code != "None"
        ]
        if not failures:
            # Cancelled without an item to blame: surface it rather than report success.
            raise RuntimeError("transaction cancelled without a reason")
        return failures
