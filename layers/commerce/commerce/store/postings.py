"""The search index's postings in the Catalog table: one item per (token, product).

A posting (pk=TOKEN#{token}, sk={created_at}#{product_id}) says the product holds the token;
a token's postings are read newest first, at most ``limit`` of them. The product item records
the tokens it may have postings of (``search_tokens``), so a product's postings are found
without a Scan when it changes or is archived.

Keeping them in step (``sync``) writes in an order that never loses track of a posting: first
the recorded set grows to old plus new, then every new token's posting is put (puts are
idempotent, so a sync that died half-way is simply done again), then the postings of tokens the
product no longer holds are deleted, and last the recorded set shrinks to the new tokens, if
nobody recorded another set meanwhile. Postings are a hint: search checks every candidate
against the product itself, so a stale one costs a read, never a wrong answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from commerce.store import keys, products
from commerce.store.tables.catalog import PostingModel


@dataclass(frozen=True)
class Posting:
    product_id: str
    created_at: str


def _posting(token: str, created_at: str, product_id: str) -> PostingModel:
    return PostingModel(
        keys.posting_pk(token), keys.posting_sk(created_at, product_id), product_id=product_id
    )


def _write(puts: Iterable[PostingModel], deletes: Iterable[PostingModel]) -> None:
    with PostingModel.batch_write() as batch:
        for item in deletes:
            batch.delete(item)
        for item in puts:
            batch.save(item)


def sync(product_id: str, created_at: str, recorded: Sequence[str], wanted: Sequence[str]) -> bool:
    """Make the product's postings exactly ``wanted`` (``recorded`` is its ``search_tokens``
    as read). False when another sync recorded a different set meanwhile; its own pass
    then finishes the work."""
    union = list(dict.fromkeys([*recorded, *wanted]))
    if union != list(recorded) and not products.set_search_tokens(
        product_id, union, expected=recorded
    ):
        return False
    gone = [t for t in recorded if t not in set(wanted)]
    _write(
        (_posting(t, created_at, product_id) for t in wanted),
        (_posting(t, created_at, product_id) for t in gone),
    )
    if list(wanted) == union:
        return True
    return products.set_search_tokens(product_id, list(wanted), expected=union)


def read(token: str, limit: int) -> list[Posting]:
    """The newest ``limit`` products holding ``token``."""
    rows = PostingModel.query(keys.posting_pk(token), scan_index_forward=False, limit=limit)
    return [Posting(row.product_id, row.sk.rsplit("#", 1)[0]) for row in rows]
