"""The sandbox payment provider: the default outside production, deciding by token (API.md).

| token | charge |
|---|---|
| ``tok_ok`` | approved |
| ``tok_declined`` | declined, ``card_declined`` |
| ``tok_flaky`` | ``TransientProviderError`` on the first attempt of a key, approved on a retry |
| anything else | declined, ``invalid_token`` |

Like a real provider it is idempotent by key: the same key answers with the first result and
never moves money twice, and a key reused with other parameters is refused. Its ledger lives
behind ``LedgerStore`` (get, put-if-absent, query by partition), so the same code runs over a
DynamoDB table with conditional puts; ``InMemoryLedger`` serves the tests. Every decision is a
put-if-absent, never a read-then-write, so concurrent calls with one key make one charge.
``find_charge`` reads a key's charge record and writes none: a key never charged stays so.

A ``timeout_rate`` (``SANDBOX_PROVIDER_TIMEOUT_RATE``, set by the local stack's
``--provider-timeouts``) makes that share of charges, refunds and voids time out as a
provider's API can: after a short wait, ``TransientProviderError``, half of the time before
the call did anything and half after it did (the money moved, the answer lost). Either way a
retry with the same key gets the first call's result, so the caller's retries must never move
money twice. The timeouts are spread evenly over the calls, so a test meets them in every run.

Ledger layout (partition, key):

- ``(order_id, "charge#<idempotency key>")``: a charge's result, approved or declined.
- ``(order_id, "attempt#<idempotency key>")``: ``tok_flaky``'s first attempt was made.
- ``(charge_id, "charge")``: an approved charge, for refunds and voids to find.
- ``(charge_id, "movement#<n>")``: the n-th refund or void of a charge. Slots are claimed in
  order with put-if-absent, so two racing refunds cannot both spend the same remainder.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Mapping
from typing import Final, Protocol, TypeVar

from commerce.domain.money import Money
from commerce.observability import logger
from commerce.payments.provider import (
    ChargeResult,
    ChargeStatus,
    PermanentProviderError,
    RefundResult,
    TransientProviderError,
    VoidResult,
)
from commerce.store import kit

TOK_OK: Final = "tok_ok"
TOK_DECLINED: Final = "tok_declined"
TOK_FLAKY: Final = "tok_flaky"
DECLINE_CARD: Final = "card_declined"
DECLINE_INVALID_TOKEN: Final = "invalid_token"  # noqa: S105 (a decline code)

#: Refund and void attempts when other calls keep taking the next slot first.
MAX_SLOT_ATTEMPTS: Final = 50
#: The first pause's ceiling between those attempts (the store kit's jittered backoff).
SLOT_PAUSE_SECONDS: Final = 0.001

#: How long an injected timeout waits before the caller hears of it.
TIMEOUT_WAIT_SECONDS: Final = 0.2

Record = Mapping[str, str | int]
T = TypeVar("T")


class LedgerStore(Protocol):
    """Where the sandbox keeps its ledger: records by (partition, key), written once each."""

    def get(self, partition: str, key: str) -> Record | None: ...

    def put_if_absent(self, partition: str, key: str, record: Record) -> bool:
        """Store ``record`` unless the key exists; True when this call stored it."""
        ...

    def query(self, partition: str, prefix: str) -> list[tuple[str, Record]]:
        """The records of ``partition`` whose key starts with ``prefix``, in key order."""
        ...


class InMemoryLedger:
    """A ``LedgerStore`` in a dict, safe across threads (one lock; tests only)."""

    def __init__(self) -> None:
        self._items: dict[tuple[str, str], dict[str, str | int]] = {}
        self._lock = threading.Lock()

    def get(self, partition: str, key: str) -> Record | None:
        with self._lock:
            found = self._items.get((partition, key))
            return None if found is None else dict(found)

    def put_if_absent(self, partition: str, key: str, record: Record) -> bool:
        with self._lock:
            if (partition, key) in self._items:
                return False
            self._items[(partition, key)] = dict(record)
            return True

    def query(self, partition: str, prefix: str) -> list[tuple[str, Record]]:
        with self._lock:
            found = [
                (key, dict(record))
                for (part, key), record in self._items.items()
                if part == partition and key.startswith(prefix)
            ]
        return sorted(found, key=lambda item: item[0])


def _digest(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:24]


def charge_id_for(order_id: str, idempotency_key: str) -> str:
    """The id the sandbox gives the charge made under ``idempotency_key`` (deterministic, so
    the local stack's sandbox can name it in the notification it sends for the order)."""
    return f"ch_{_digest(order_id, idempotency_key)}"


def _int(record: Record, name: str) -> int:
    value = record[name]
    if not isinstance(value, int):
        raise PermanentProviderError(f"sandbox ledger: {name} is not an integer")
    return value


def _str(record: Record, name: str) -> str:
    return str(record[name])


def _charge_result(record: Record) -> ChargeResult:
    code = _str(record, "decline_code")
    return ChargeResult(
        status=ChargeStatus(_str(record, "status")),
        charge_id=_str(record, "charge_id"),
        amount=Money(_int(record, "amount"), _str(record, "currency")),
        decline_code=code or None,
    )


class SandboxProvider:
    """A ``PaymentProvider`` that decides by token and keeps an idempotent ledger."""

    def __init__(
        self,
        store: LedgerStore,
        *,
        timeout_rate: float = 0.0,
        wait: Callable[[float], object] = time.sleep,
    ) -> None:
        self._store = store
        self._timeout_rate = timeout_rate
        self._wait = wait
        # Timeouts are spread evenly over the calls, the first half a period in: the n-th
        # comes at call ceil((n - 1/2) / rate), so a rate up to 1/2 never times out twice in a
        # row, and a retry of a timed-out call is answered.
        self._due = 0.5
        self._timeouts = 0
        self._lock = threading.Lock()

    def _times_out(self) -> int:
        """0 when this call is answered; else the number of this timeout (1, 2, ...)."""
        if not self._timeout_rate:
            return 0
        with self._lock:
            self._due += self._timeout_rate
            if self._due < 1:
                return 0
            self._due -= 1
            self._timeouts += 1
            return self._timeouts

    def _may_time_out(self, what: str, ref: str, call: Callable[[], T]) -> T:
        """``call()``, unless this call is one of the ``timeout_rate`` share that time out:
        then ``TransientProviderError`` after a wait, before ``call`` (odd timeouts) or after
        it (even ones: the money moved, the answer lost)."""
        timeout = self._times_out()
        if not timeout:
            return call()
        before = timeout % 2 == 1
        if not before:
            call()
        self._wait(TIMEOUT_WAIT_SECONDS)
        when = "before" if before else "after"
        logger.warning(
            "sandbox provider timed out (injected)", extra={"call": what, "ref": ref, "when": when}
        )
        raise TransientProviderError(f"sandbox: the provider timed out ({what}, {when})")

    # --- charges ---------------------------------------------------------------------------

    def charge(
        self,
        order_id: str,
        amount: Money,
        token: str,
        idempotency_key: str,
        *,
        expires_at: int | None = None,
    ) -> ChargeResult:
        del expires_at  # a sandbox charge is decided at once
        return self._may_time_out(
            "charge", order_id, lambda: self._charge_once(order_id, amount, token, idempotency_key)
        )

    def _charge_once(
        self, order_id: str, amount: Money, token: str, idempotency_key: str
    ) -> ChargeResult:
        if amount.amount <= 0:
            raise PermanentProviderError("a charge is for a positive amount")
        key = f"charge#{idempotency_key}"
        first = self._store.get(order_id, key)
        if first is not None:
            return self._replay(order_id, first, amount, token)
        if token == TOK_FLAKY and self._store.put_if_absent(
            order_id, f"attempt#{idempotency_key}", {"token": token}
        ):
            raise TransientProviderError("sandbox: the provider timed out (tok_flaky)")
        status, code = self._decide(token)
        record: dict[str, str | int] = {
            "charge_id": charge_id_for(order_id, idempotency_key),
            "order_id": order_id,
            "status": status.value,
            "decline_code": code or "",
            "amount": amount.amount,
            "currency": amount.currency,
            "token": token,
        }
        if not self._store.put_if_absent(order_id, key, record):
            stored = self._store.get(order_id, key)
            if stored is None:  # pragma: no cover - a ledger never forgets a record
                raise TransientProviderError("sandbox: ledger lost a charge record")
            return self._replay(order_id, stored, amount, token)
        self._index(record)
        return _charge_result(record)

    def find_charge(self, order_id: str, idempotency_key: str) -> ChargeResult | None:
        """The first result of the charge made with ``idempotency_key``, or None if none was.

        Reads are strongly consistent (``DynamoLedger``), so None is certain. The one write is
        the refund index of an approved charge whose first call died before writing it: it
        records nothing new about money, and without it the refund this lookup leads to would
        find no charge.
        """
        found = self._store.get(order_id, f"charge#{idempotency_key}")
        if found is None:
            return None
        self._index(found)
        return _charge_result(found)

    def _replay(self, order_id: str, first: Record, amount: Money, token: str) -> ChargeResult:
        same = (
            _int(first, "amount") == amount.amount
            and _str(first, "currency") == amount.currency
            and _str(first, "token") == token
        )
        if not same:
            raise PermanentProviderError("idempotency key reused with different parameters")
        self._index(first)  # repair an index a crashed first call did not write
        return _charge_result(first)

    def _index(self, record: Record) -> None:
        if _str(record, "status") != ChargeStatus.APPROVED.value:
            return
        self._store.put_if_absent(
            _str(record, "charge_id"),
            "charge",
            {
                "order_id": _str(record, "order_id"),
                "amount": _int(record, "amount"),
                "currency": _str(record, "currency"),
            },
        )

    @staticmethod
    def _decide(token: str) -> tuple[ChargeStatus, str | None]:
        if token in (TOK_OK, TOK_FLAKY):
            return ChargeStatus.APPROVED, None
        if token == TOK_DECLINED:
            return ChargeStatus.DECLINED, DECLINE_CARD
        return ChargeStatus.DECLINED, DECLINE_INVALID_TOKEN

    # --- refunds and voids -----------------------------------------------------------------

    def refund(self, charge_id: str, amount: Money, idempotency_key: str) -> RefundResult:
        return self._may_time_out(
            "refund", charge_id, lambda: self._refund_once(charge_id, amount, idempotency_key)
        )

    def _refund_once(self, charge_id: str, amount: Money, idempotency_key: str) -> RefundResult:
        charge = self._charge(charge_id)
        if amount.currency != _str(charge, "currency") or amount.amount <= 0:
            raise PermanentProviderError("a refund is a positive amount in the charge's currency")
        record = self._claim_slot(charge_id, charge, "refund", amount.amount, idempotency_key)
        return RefundResult(
            refund_id=_str(record, "movement_id"),
            charge_id=charge_id,
            amount=Money(_int(record, "amount"), amount.currency),
            refunded_total=Money(_int(record, "total_after"), amount.currency),
        )

    def void(self, charge_id: str, idempotency_key: str) -> VoidResult:
        return self._may_time_out(
            "void", charge_id, lambda: self._void_once(charge_id, idempotency_key)
        )

    def _void_once(self, charge_id: str, idempotency_key: str) -> VoidResult:
        charge = self._charge(charge_id)
        self._claim_slot(charge_id, charge, "void", _int(charge, "amount"), idempotency_key)
        return VoidResult(charge_id)

    def _charge(self, charge_id: str) -> Record:
        charge = self._store.get(charge_id, "charge")
        if charge is None:
            raise PermanentProviderError("no approved charge with this id")
        return charge

    def _claim_slot(
        self, charge_id: str, charge: Record, kind: str, amount: int, idempotency_key: str
    ) -> Record:
        """Claim the next movement slot of the charge for this refund or void, or find the one
        this key already claimed. Another call taking the slot first means reading again."""
        charged = _int(charge, "amount")

        def attempt(_: int) -> Record | kit.Retry:
            movements = [record for _, record in self._store.query(charge_id, "movement#")]
            for done in movements:
                if _str(done, "key") == idempotency_key:
                    if _str(done, "kind") != kind or _int(done, "amount") != amount:
                        raise PermanentProviderError(
                            "idempotency key reused with different parameters"
                        )
                    return done
            if any(_str(done, "kind") == "void" for done in movements):
                raise PermanentProviderError("the charge was voided")
            spent = sum(_int(done, "amount") for done in movements)
            if kind == "void" and spent:
                raise PermanentProviderError("a charge with refunds cannot be voided")
            if spent + amount > charged:
                raise PermanentProviderError("the refund exceeds what remains of the charge")
            prefix = "re" if kind == "refund" else "vo"
            record: dict[str, str | int] = {
                "movement_id": f"{prefix}_{_digest(charge_id, idempotency_key)}",
                "kind": kind,
                "key": idempotency_key,
                "amount": amount,
                "total_after": spent + amount,
            }
            if self._store.put_if_absent(charge_id, f"movement#{len(movements):06d}", record):
                return record
            return kit.RETRY

        return kit.retry_on_conflict(
            attempt,
            give_up=lambda: TransientProviderError(
                "sandbox: too many concurrent refunds of one charge"
            ),
            attempts=MAX_SLOT_ATTEMPTS,
            base_seconds=SLOT_PAUSE_SECONDS,
        )

    # --- what tests assert -----------------------------------------------------------------

    def charge_count(self, order_id: str) -> int:
        """Approved charges made for ``order_id`` under any key: 1 for a paid order, never 2."""
        return sum(
            1
            for _, record in self._store.query(order_id, "charge#")
            if _str(record, "status") == ChargeStatus.APPROVED.value
        )

    def refunded_total(self, charge_id: str) -> Money:
        """Everything refunded or voided of ``charge_id`` so far."""
        charge = self._charge(charge_id)
        spent = sum(_int(r, "amount") for _, r in self._store.query(charge_id, "movement#"))
        return Money(spent, _str(charge, "currency"))
