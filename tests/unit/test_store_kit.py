"""The store kit: a conditional write's outcome as a value, and bounded retries with jitter.

The write helpers run against moto with a real PynamoDB model, so "refused" means what DynamoDB
says when a condition does not hold. The retry helper is exercised with an injected sleep and
jitter (bounds, counts, the give-up error) and, at the end, by threads racing on one item.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ClientError
from commerce.errors import TooManyRequests
from commerce.store import kit
from hypothesis import given, settings
from hypothesis import strategies as st
from moto import mock_aws
from moto.dynamodb.models import DynamoDBBackend
from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import DeleteError, GetError, PutError, UpdateError
from pynamodb.models import Model

REGION = "us-east-1"


class Counter(Model):
    """One item with a value and the version every write is conditioned on."""

    class Meta:
        table_name = "kit-counters"
        region = REGION

    pk = UnicodeAttribute(hash_key=True)
    value = NumberAttribute(default=0)
    version = NumberAttribute(default=0)


class Missing(Model):
    """A model whose table never exists: its writes fail for a reason other than a condition."""

    class Meta:
        table_name = "kit-no-such-table"
        region = REGION

    pk = UnicodeAttribute(hash_key=True)


@pytest.fixture
def table(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A fresh moto table for ``Counter``; any endpoint override is set aside so moto answers."""
    monkeypatch.delenv("AWS_ENDPOINT_URL_DYNAMODB", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        # PynamoDB keeps a connection per model class; a new one belongs to this mock.
        Counter._connection = None
        Missing._connection = None
        Counter.create_table(billing_mode="PAY_PER_REQUEST", wait=True)
        yield
        Counter._connection = None
        Missing._connection = None


# --- applied / written / refused ---------------------------------------------------------------


def test_applied_is_true_when_written_and_false_when_the_condition_refuses(table: None) -> None:
    first = Counter("a", value=1)
    assert kit.applied(lambda: first.save(condition=Counter.pk.does_not_exist())) is True
    second = Counter("a", value=2)
    assert kit.applied(lambda: second.save(condition=Counter.pk.does_not_exist())) is False
    assert Counter.get("a", consistent_read=True).value == 1  # the refused put wrote nothing


def test_applied_covers_updates_and_deletes(table: None) -> None:
    Counter("a", value=1, version=1).save()
    row = Counter("a")
    stale = Counter.version == 0
    assert kit.applied(lambda: row.update([Counter.value.set(5)], condition=stale)) is False
    current = Counter.version == 1
    assert kit.applied(lambda: row.update([Counter.value.set(5)], condition=current)) is True
    assert kit.applied(lambda: row.delete(condition=Counter.value == 4)) is False
    assert kit.applied(lambda: row.delete(condition=Counter.value == 5)) is True
    assert Counter.count("a", consistent_read=True) == 0


def test_written_returns_what_the_write_returned_or_none_when_refused(table: None) -> None:
    Counter("a", value=1, version=1).save()
    row = Counter("a")

    def bump(expected: int) -> Any:
        return row.update(
            [Counter.value.add(1), Counter.version.set(expected + 1)],
            condition=Counter.version == expected,
        )

    result = kit.written(lambda: bump(1))
    assert result is not None
    assert int(row.value) == 2  # the update's new attributes came back onto the row
    assert kit.written(lambda: bump(1)) is None  # version 1 is gone now


def test_failures_other_than_a_condition_propagate(table: None) -> None:
    with pytest.raises(PutError) as put:
        kit.applied(lambda: Missing("x").save(condition=Missing.pk.does_not_exist()))
    assert not kit.refused(put.value)
    with pytest.raises(UpdateError):
        kit.written(lambda: Missing("x").update([Missing.pk.set("y")]))
    with pytest.raises(DeleteError):
        kit.applied(lambda: Missing("x").delete())


def test_refused_reads_the_condition_failed_code(table: None) -> None:
    Counter("a").save()
    with pytest.raises(PutError) as caught:
        Counter("a").save(condition=Counter.pk.does_not_exist())
    assert kit.refused(caught.value)
    assert caught.value.cause_response_code == kit.CONDITION_FAILED_ERROR
    assert not kit.refused(RuntimeError("not a write error"))


# --- retry_on_conflict ---------------------------------------------------------------------------


class Recorder:
    """Stands in for ``time.sleep``: remembers each pause instead of taking it."""

    def __init__(self) -> None:
        self.pauses: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.pauses.append(seconds)


def _ceiling(low: float, high: float) -> float:
    """A jitter that always draws the longest pause allowed."""
    return high


def test_the_first_decided_answer_is_returned_without_further_attempts() -> None:
    calls: list[int] = []

    def attempt(n: int) -> str | kit.Retry:
        calls.append(n)
        return "done" if n == 2 else kit.RETRY

    sleep = Recorder()
    result = kit.retry_on_conflict(
        attempt, give_up=lambda: TooManyRequests(1, "busy"), attempts=5, sleep=sleep
    )
    assert result == "done"
    assert calls == [0, 1, 2]
    assert len(sleep.pauses) == 2  # before the second and the third attempt, not the first


def test_give_up_is_raised_after_exactly_the_attempts_allowed() -> None:
    calls: list[int] = []

    def attempt(n: int) -> str | kit.Retry:
        calls.append(n)
        return kit.RETRY

    sleep = Recorder()
    with pytest.raises(TooManyRequests):
        kit.retry_on_conflict(
            attempt, give_up=lambda: TooManyRequests(1, "busy"), attempts=4, sleep=sleep
        )
    assert calls == [0, 1, 2, 3]
    assert len(sleep.pauses) == 3


def test_the_default_is_five_attempts() -> None:
    calls: list[int] = []

    def attempt(n: int) -> kit.Retry | None:
        calls.append(n)
        return kit.RETRY

    with pytest.raises(LookupError):
        kit.retry_on_conflict(attempt, give_up=LookupError, sleep=Recorder())
    assert len(calls) == kit.DEFAULT_ATTEMPTS == 5


def test_an_error_raised_by_an_attempt_ends_the_retries() -> None:
    calls: list[int] = []

    def attempt(n: int) -> int | kit.Retry:
        calls.append(n)
        if n == 1:
            raise KeyError("decided: no such item")
        return kit.RETRY

    with pytest.raises(KeyError):
        kit.retry_on_conflict(attempt, give_up=LookupError, sleep=Recorder())
    assert calls == [0, 1]


def test_a_falsy_answer_is_an_answer_not_a_retry() -> None:
    assert kit.retry_on_conflict(lambda n: 0, give_up=LookupError, sleep=Recorder()) == 0
    assert kit.retry_on_conflict(lambda n: None, give_up=LookupError, sleep=Recorder()) is None
    assert kit.retry_on_conflict(lambda n: False, give_up=LookupError, sleep=Recorder()) is False


def test_retry_or_answers_the_default_once_every_race_is_lost() -> None:
    sleep = Recorder()
    assert kit.retry_or(lambda n: kit.RETRY, default=False, attempts=3, sleep=sleep) is False
    assert len(sleep.pauses) == 2
    assert kit.retry_or(lambda n: True if n else kit.RETRY, default=False, sleep=sleep) is True


def test_pauses_double_from_the_base_ceiling() -> None:
    sleep = Recorder()
    with pytest.raises(LookupError):
        kit.retry_on_conflict(
            lambda n: kit.RETRY,
            give_up=LookupError,
            attempts=5,
            base_seconds=0.01,
            sleep=sleep,
            jitter=_ceiling,
        )
    assert sleep.pauses == pytest.approx([0.01, 0.02, 0.04, 0.08])


def test_no_pause_when_the_base_is_zero() -> None:
    sleep = Recorder()
    with pytest.raises(LookupError):
        kit.retry_on_conflict(
            lambda n: kit.RETRY, give_up=LookupError, attempts=3, base_seconds=0, sleep=sleep
        )
    assert sleep.pauses == []


@settings(max_examples=200, deadline=None)
@given(
    attempts=st.integers(min_value=1, max_value=8),
    decided_at=st.integers(min_value=0, max_value=10),
    base=st.floats(min_value=0.0001, max_value=0.5, allow_nan=False),
)
def test_attempts_and_pauses_stay_within_their_bounds(
    attempts: int, decided_at: int, base: float
) -> None:
    """Whatever the count, the base and the attempt that decides: at most ``attempts`` calls,
    one pause fewer than calls, each pause within full jitter's range, and give-up only when no
    attempt decided."""
    calls: list[int] = []
    sleep = Recorder()

    def attempt(n: int) -> int | kit.Retry:
        calls.append(n)
        return n if n == decided_at else kit.RETRY

    try:
        result: int | None = kit.retry_on_conflict(
            attempt, give_up=LookupError, attempts=attempts, base_seconds=base, sleep=sleep
        )
    except LookupError:
        result = None
    if decided_at < attempts:
        assert result == decided_at
        assert calls == list(range(decided_at + 1))
    else:
        assert result is None
        assert calls == list(range(attempts))
    assert len(sleep.pauses) == len(calls) - 1
    for n, pause in enumerate(sleep.pauses, start=1):
        assert 0 <= pause <= base * 2 ** (n - 1)


# --- Racing writers ------------------------------------------------------------------------------

WRITERS = 8
INCREMENTS = 5


def _increment(pk: str) -> bool:
    """Read the counter, write value + 1 conditioned on the version read; RETRY if it moved."""

    def attempt(_: int) -> bool | kit.Retry:
        read = Counter.get(pk, consistent_read=True)
        version = int(read.version)
        row = Counter(pk)
        if kit.applied(
            lambda: row.update(
                [Counter.value.set(int(read.value) + 1), Counter.version.set(version + 1)],
                condition=Counter.version == version,
            )
        ):
            return True
        return kit.RETRY

    try:
        return kit.retry_on_conflict(
            attempt, give_up=lambda: TooManyRequests(1, "busy"), attempts=6, base_seconds=0.002
        )
    except TooManyRequests:
        return False


@pytest.fixture
def atomic_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    """DynamoDB applies each single-item write atomically (condition and change together);
    moto checks and applies without a lock, so racing threads could both pass one condition.
    Each moto write runs alone here, as each is alone in DynamoDB."""
    lock = threading.Lock()
    for name in ("put_item", "update_item", "delete_item"):
        original = getattr(DynamoDBBackend, name)

        def alone(self: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            with lock:
                return _original(self, *args, **kwargs)

        monkeypatch.setattr(DynamoDBBackend, name, alone)


def test_racing_writers_never_lose_an_increment(table: None, atomic_writes: None) -> None:
    Counter("race", value=0, version=0).save()
    start = threading.Barrier(WRITERS)

    def writer() -> int:
        start.wait()
        return sum(_increment("race") for _ in range(INCREMENTS))

    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        successes = sum(pool.map(lambda _: writer(), range(WRITERS)))
    final = Counter.get("race", consistent_read=True)
    assert successes > 0
    assert int(final.value) == successes  # every success counted once, none lost
    assert int(final.version) == successes


# --- throttling -------------------------------------------------------------------------------


def _client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "..."}}, "PutItem")


@pytest.mark.parametrize(
    ("error", "throttled"),
    [
        (PutError(cause=_client_error("ProvisionedThroughputExceededException")), True),
        (UpdateError(cause=_client_error("ThrottlingException")), True),
        (_client_error("RequestLimitExceeded"), True),
        (PutError(cause=_client_error("ConditionalCheckFailedException")), False),
        (_client_error("InternalServerError"), False),
        (RuntimeError("nothing to do with DynamoDB"), False),
    ],
)
def test_throttling_is_told_apart_from_every_other_failure(
    error: BaseException, throttled: bool
) -> None:
    assert kit.throttled(error) is throttled


def _read_that_fails() -> None:
    try:
        raise GetError(cause=_client_error("ProvisionedThroughputExceededException"))
    except GetError as inner:
        raise RuntimeError("the read failed") from inner


def test_throttling_is_found_behind_the_error_it_caused() -> None:
    with pytest.raises(RuntimeError) as caught:
        _read_that_fails()
    assert kit.throttled(caught.value)
