"""Erasure tombstones: each subject that asked to be erased, remembered without their data.

Layout (CustomersTable, ``TombstoneModel``): pk=ERASED#{sha256 of the sub}, sk=TOMBSTONE.

- ``status``: ``erasing`` while the steps of ``DELETE /me`` run, ``scheduled`` once everything is
  erased but orders still open (each is anonymised by the move that closes it), ``erased`` when
  nothing of the subject is left;
- ``sub`` and ``username``: what the steps need to find the subject's records and sign-in, held
  only until the erasure is finished (then removed: the tombstone keeps the digest alone);
- ``signed_out``: the Cognito user is disabled and signed out everywhere;
- ``pending_order_ids``: the open orders a scheduled erasure waits for;
- gsi2 ERASURES / {requested_at}: present until ``erased``, so the sweeper finds every erasure
  left unfinished (a failed request, orders still open) without a Scan.

The tombstone is written first and never deleted: from then on every token of the subject,
however fresh, is refused (``commerce.http.auth``), so nothing the subject sends can create
a profile, a cart or an order again.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Final

from pynamodb.expressions.update import Action

from commerce.store import batch_reads, keys, kit
from commerce.store.tables.customers import TombstoneModel

ERASING: Final = "erasing"
SCHEDULED: Final = "scheduled"
ERASED: Final = "erased"


@dataclass(frozen=True)
class Tombstone:
    """A subject's erasure as recorded; ``sub`` is None once it is finished."""

    status: str
    requested_at: str
    sub: str | None = None
    username: str | None = None
    signed_out: bool = False
    pending_order_ids: frozenset[str] = frozenset()

    @property
    def finished(self) -> bool:
        return self.status == ERASED


def _row(sub: str) -> TombstoneModel:
    return TombstoneModel(keys.tombstone_pk(sub), keys.TOMBSTONE_SK)


def _from_model(model: TombstoneModel) -> Tombstone:
    return Tombstone(
        status=model.status,
        requested_at=model.requested_at,
        sub=model.sub,
        username=model.username,
        signed_out=bool(model.signed_out),
        pending_order_ids=frozenset(model.pending_order_ids or ()),
    )


def load(sub: str) -> Tombstone | None:
    """The subject's tombstone, read consistently; None when they never asked to be erased."""
    try:
        model = TombstoneModel.get(keys.tombstone_pk(sub), keys.TOMBSTONE_SK, consistent_read=True)
    except TombstoneModel.DoesNotExist:
        return None
    return _from_model(model)


def tombstone_key(sub: str) -> batch_reads.Key[TombstoneModel]:
    """The subject's tombstone key, read consistently, for a caller that reads it in its own
    batch: the subject is erased when the item is there."""
    return batch_reads.Key(
        TombstoneModel, keys.tombstone_pk(sub), keys.TOMBSTONE_SK, consistent=True
    )


def is_erased(sub: str) -> bool:
    """Whether the subject asked to be erased (in any state of it): one consistent read of the
    key alone, so a token used a moment after ``DELETE /me`` is already refused."""
    try:
        TombstoneModel.get(
            keys.tombstone_pk(sub),
            keys.TOMBSTONE_SK,
            consistent_read=True,
            attributes_to_get=["pk"],
        )
    except TombstoneModel.DoesNotExist:
        return False
    return True


def begin(sub: str, username: str | None, *, at: str) -> Tombstone:
    """Record that the subject is being erased (first step of ``DELETE /me``); the tombstone
    already there when the subject was erased before."""
    item = _row(sub)
    item.status = ERASING
    item.requested_at = at
    item.sub = sub
    item.username = username
    item.gsi2pk = keys.ERASURES_GSI2PK
    item.gsi2sk = at
    if kit.applied(lambda: item.save(condition=TombstoneModel.pk.does_not_exist())):
        return _from_model(item)
    found = load(sub)
    if found is None:  # pragma: no cover - a tombstone is never deleted
        raise RuntimeError("tombstone vanished")
    return found


def mark_signed_out(sub: str) -> None:
    """The sign-in is disabled and every session signed out: the username is not needed again."""
    kit.applied(
        lambda: _row(sub).update(
            actions=[TombstoneModel.signed_out.set(True), TombstoneModel.username.remove()],
            condition=TombstoneModel.pk.exists(),
        )
    )


def schedule(sub: str, order_ids: Iterable[str]) -> None:
    """Everything is erased but the open ``order_ids``, each anonymised when it closes."""
    pending = set(order_ids)
    actions: list[Action] = [
        TombstoneModel.status.set(SCHEDULED),
        TombstoneModel.pending_order_ids.set(pending)
        if pending
        else TombstoneModel.pending_order_ids.remove(),
    ]
    kit.applied(
        lambda: _row(sub).update(
            actions=actions,
            condition=TombstoneModel.pk.exists() & (TombstoneModel.status != ERASED),
        )
    )


def finish(sub: str, *, at: str) -> None:
    """Nothing of the subject is left: the tombstone forgets the sub and leaves the index."""
    kit.applied(
        lambda: _row(sub).update(
            actions=[
                TombstoneModel.status.set(ERASED),
                TombstoneModel.finished_at.set(at),
                TombstoneModel.sub.remove(),
                TombstoneModel.username.remove(),
                TombstoneModel.pending_order_ids.remove(),
                TombstoneModel.gsi2pk.remove(),
                TombstoneModel.gsi2sk.remove(),
            ],
            condition=TombstoneModel.pk.exists(),
        )
    )


def unfinished(requested_before: str, page_size: int = 100) -> Iterator[Tombstone]:
    """Erasures requested before ``requested_before`` (ISO 8601) and not finished, oldest
    first. The index is eventually consistent: each is read again before it is acted on."""
    rows = TombstoneModel.gsi2.query(
        keys.ERASURES_GSI2PK,
        TombstoneModel.gsi2sk < requested_before,
        page_size=page_size,
    )
    for row in rows:
        if row.sub:
            found = load(row.sub)
            if found is not None and not found.finished:
                yield found
