"""The store's shared tools: a conditional write's outcome, and retrying a write that lost a race.

Every invariant here is a condition on a write (``available >= quantity``, ``version = :read``,
``attribute_not_exists``), so "the condition refused it" is an ordinary answer, not an error.
Two spellings of it exist in DynamoDB: a single-item write raises
``ConditionalCheckFailedException``; a cancelled transaction names ``ConditionalCheckFailed``
per item. Both are said once here, and ``applied``/``written`` turn the first into a value.

A write that lost a race is decided again on a fresh read by ``retry_on_conflict``: a bounded
number of attempts with full jitter between them, so contending writers spread out instead of
colliding again, and a typed error (409 or 429) when the item stays contended.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Final, TypeVar

from pynamodb.exceptions import DeleteError, PutError, UpdateError

#: The error code of a single-item write whose condition did not hold.
CONDITION_FAILED_ERROR: Final = "ConditionalCheckFailedException"
#: The cancellation reason of a transaction item whose condition did not hold.
CONDITION_FAILED: Final = "ConditionalCheckFailed"
#: The cancellation reason of an item another transaction was writing at the same moment.
TRANSACTION_CONFLICT: Final = "TransactionConflict"
#: Cancellation reasons of an item DynamoDB throttled (an on-demand table's hot partition key;
#: a provisioned table's capacity): nothing was written, and the same call may pass shortly.
THROTTLED: Final = frozenset({"ThrottlingError", "ProvisionedThroughputExceeded"})
#: Error codes of a call DynamoDB throttled; the SDK retries them with backoff before the error
#: reaches the caller, so a caller that sees one meets a hot key or a table over its capacity.
THROTTLING_ERRORS: Final = frozenset(
    {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}
)

#: Attempts a write that keeps losing its race gets before the caller is told to retry.
DEFAULT_ATTEMPTS: Final = 5
#: The first pause's ceiling; each later pause may be twice as long as the one before.
BASE_PAUSE_SECONDS: Final = 0.005
#: No pause's ceiling grows past this, however many attempts a loop is given.
MAX_PAUSE_SECONDS: Final = 1.0

T = TypeVar("T")
_WRITE_ERRORS: Final = (PutError, UpdateError, DeleteError)


def refused(error: BaseException) -> bool:
    """Whether a PynamoDB write error says its condition did not hold (and nothing else)."""
    return getattr(error, "cause_response_code", None) == CONDITION_FAILED_ERROR


def applied(write: Callable[[], object]) -> bool:
    """Run one conditional write: True when written, False when its condition refused it.

    Any other failure (throttling, a missing table, a bad request) propagates.
    """
    try:
        write()
    except _WRITE_ERRORS as error:
        if refused(error):
            return False
        raise
    return True


def written(write: Callable[[], T]) -> T | None:
    """Run one conditional write and return what it returned; None when its condition refused
    it. For writes whose result matters (an update's new attributes)."""
    try:
        return write()
    except _WRITE_ERRORS as error:
        if refused(error):
            return None
        raise


def throttled(error: BaseException) -> bool:
    """Whether ``error`` (PynamoDB's or botocore's, or one caused by either) says DynamoDB
    throttled the call after the SDK's own retries."""
    seen: BaseException | None = error
    while seen is not None:
        code = getattr(seen, "cause_response_code", None)
        response = getattr(seen, "response", None)
        if code is None and isinstance(response, dict):
            code = response.get("Error", {}).get("Code")
        if code in THROTTLING_ERRORS:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class Retry:
    """What an attempt returns when its write lost a race: decide again on a fresh read."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "RETRY"


RETRY: Final = Retry()


#: Sleeps for the given seconds (``time.sleep``; a test passes a recorder).
Sleep = Callable[[float], object]
#: Draws a pause uniformly from ``[low, high]`` (``random.uniform``; a test passes its own).
Jitter = Callable[[float, float], float]


def pause(
    attempt: int,
    base_seconds: float = BASE_PAUSE_SECONDS,
    *,
    sleep: Sleep = time.sleep,
    jitter: Jitter = random.uniform,
) -> None:
    """Full-jitter exponential backoff before attempt ``attempt`` (none before the first): a
    pause drawn from ``[0, base_seconds * 2 ** (attempt - 1)]``, that ceiling capped at
    ``MAX_PAUSE_SECONDS``."""
    if attempt > 0 and base_seconds > 0:
        ceiling = min(MAX_PAUSE_SECONDS, base_seconds * 2 ** min(attempt - 1, 30))
        sleep(jitter(0, ceiling))


def _first_decided(
    attempt: Callable[[int], T | Retry],
    attempts: int,
    base_seconds: float,
    sleep: Sleep,
    jitter: Jitter,
) -> T | Retry:
    for n in range(attempts):
        pause(n, base_seconds, sleep=sleep, jitter=jitter)
        result = attempt(n)
        if not isinstance(result, Retry):
            return result
    return RETRY


def retry_on_conflict(
    attempt: Callable[[int], T | Retry],
    *,
    give_up: Callable[[], BaseException],
    attempts: int = DEFAULT_ATTEMPTS,
    base_seconds: float = BASE_PAUSE_SECONDS,
    sleep: Sleep = time.sleep,
    jitter: Jitter = random.uniform,
) -> T:
    """Call ``attempt(n)`` until it returns something other than ``RETRY``, at most
    ``attempts`` times, pausing with jitter between calls; then raise ``give_up()``.

    The attempt reads, decides and writes; it returns ``RETRY`` only when the write's condition
    failed because the item changed since the read, so a retry can decide differently.
    """
    result = _first_decided(attempt, attempts, base_seconds, sleep, jitter)
    if isinstance(result, Retry):
        raise give_up()
    return result


def retry_or(
    attempt: Callable[[int], T | Retry],
    *,
    default: T,
    attempts: int = DEFAULT_ATTEMPTS,
    base_seconds: float = BASE_PAUSE_SECONDS,
    sleep: Sleep = time.sleep,
    jitter: Jitter = random.uniform,
) -> T:
    """``retry_on_conflict`` for a best-effort write: losing every race is an answer
    (``default``), not an error, when a later run will try again anyway."""
    result = _first_decided(attempt, attempts, base_seconds, sleep, jitter)
    return default if isinstance(result, Retry) else result
