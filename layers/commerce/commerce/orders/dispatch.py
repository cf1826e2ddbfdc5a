"""Handing a placed order to the payments function, and making sure it always happens.

Checkout writes the order with a dispatch marker (gsi2, sparse) in its transaction, then sends
``{"order_id"}`` to the payments queue and removes the marker. If the send fails, or the
function dies between the write and the send, the marker stays: :func:`reconcile_dispatch`, run
on the sweeper's schedule, finds orders marked for longer than ``RESEND_AFTER_SECONDS`` and sends
again. A message sent twice is harmless: charging acts on the order's status and the provider
charges once per ``charge_key(order_id)``. So no order is ever stuck unpaid.

The queue is a port (``PaymentQueue``): SQS in every deployed function, a list in the service
tests of checkout (``MemoryPaymentQueue``, installed with ``use_payment_queue``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Final, Protocol

from commerce import clock
from commerce.domain.orders import OrderStatus
from commerce.observability import logger
from commerce.orders.book import order_book
from commerce.ports import Adapter
from commerce.settings import get_settings
from commerce.store import keys
from commerce.store import orders as store

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient

#: An order still marked this long after it was placed is sent again.
RESEND_AFTER_SECONDS: Final = 60


@lru_cache(maxsize=1)
def _sqs() -> SQSClient:
    import boto3  # deferred: only the send needs it

    return boto3.client("sqs", region_name=get_settings().region)


def payment_message(order_id: str) -> str:
    """The body of the payments queue's message: the order id, nothing else (the consumer
    reads the order, so a stale message can never carry stale amounts)."""
    return json.dumps({"order_id": order_id}, separators=(",", ":"))


class PaymentQueue(Protocol):
    """Where placed orders wait for their charge. ``send`` raises when the message was not
    accepted (the dispatch marker then stays for the reconciler)."""

    def send(self, order_id: str) -> None: ...


class SqsPaymentQueue:
    """The payments queue named by settings (``PAYMENTS_QUEUE_URL``)."""

    def send(self, order_id: str) -> None:
        _sqs().send_message(
            QueueUrl=get_settings().payments_queue_url, MessageBody=payment_message(order_id)
        )


@dataclass
class MemoryPaymentQueue:
    """Keeps the order ids sent, in order; ``refuse`` makes every send fail (tests only)."""

    sent: list[str] = field(default_factory=list)
    refuse: bool = False

    def send(self, order_id: str) -> None:
        if self.refuse:
            raise ConnectionError("the payments queue refused the message")
        self.sent.append(order_id)


#: The process's payments queue: SQS unless a test installed another (``use_payment_queue``).
payment_queue: Final = Adapter[PaymentQueue](SqsPaymentQueue)
use_payment_queue: Final = payment_queue.use


def send_payment_message(order_id: str) -> bool:
    """Send the order to the payments queue and clear its dispatch marker; False if the send
    failed (the marker stays and the reconciler sends it later)."""
    try:
        payment_queue().send(order_id)
    except Exception:  # botocore's errors share no useful base; the reconciler retries
        logger.exception(
            "payment message not sent; the reconciler will resend", extra={"order_id": order_id}
        )
        return False
    try:
        order_book().clear_dispatch_marker(order_id)
    except Exception:  # a stale marker only costs one harmless resend
        logger.warning("dispatch marker not cleared", extra={"order_id": order_id})
    return True


@dataclass
class ReconcileReport:
    """What one reconciler run did: messages resent, and markers of orders already past
    PENDING_PAYMENT cleared without a send."""

    resent: int = 0
    cleared: int = 0
    failed: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"resent": self.resent, "cleared": self.cleared, "failed": self.failed}


def _cutoff(now: int) -> str:
    return clock.iso_us(now - RESEND_AFTER_SECONDS)


def reconcile_dispatch(now: int) -> ReconcileReport:
    """Resend the payment message of every order marked undispatched for over a minute.

    ``now`` is epoch seconds. Orders no longer PENDING_PAYMENT (cancelled meanwhile, or paid
    through an earlier message) only lose their marker.
    """
    report = ReconcileReport()
    cutoff = _cutoff(now)
    for bucket in range(keys.DISPATCH_BUCKETS):
        for stored in store.undispatched(bucket, cutoff):
            if stored.status is not OrderStatus.PENDING_PAYMENT:
                store.clear_dispatch_marker(stored.order_id)
                report.cleared += 1
            elif send_payment_message(stored.order_id):
                report.resent += 1
            else:
                report.failed += 1
    if report.resent or report.cleared or report.failed:
        logger.info("payment dispatch reconciled", extra=report.as_dict())
    return report
