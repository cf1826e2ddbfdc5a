"""Cognito group parsing and role checks."""

from __future__ import annotations

import pytest
from commerce.http.auth import ROLES, Caller, caller_from_claims, parse_groups
from hypothesis import given
from hypothesis import strategies as st

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ops", {"ops"}),
        ("ops,admin", {"ops", "admin"}),
        ("[ops admin]", {"ops", "admin"}),
        (["support", "customer"], {"support", "customer"}),
        ("ops, support", {"ops", "support"}),
        ("root,ops", {"ops"}),
        ("", set()),
        (None, set()),
    ],
)
def test_parse_groups(raw: object, expected: set[str]) -> None:
    assert parse_groups(raw) == frozenset(expected)


@given(st.lists(st.sampled_from(sorted(ROLES)), unique=True))
def test_every_serialisation_parses_alike(groups: list[str]) -> None:
    expected = frozenset(groups)
    assert parse_groups(",".join(groups)) == expected
    assert parse_groups("[" + " ".join(groups) + "]") == expected
    assert parse_groups(groups) == expected


def test_no_sub_is_anonymous() -> None:
    assert not caller_from_claims({"cognito:groups": "admin"}).is_authenticated
    assert not caller_from_claims(None).is_authenticated


@pytest.mark.parametrize(
    ("groups", "ops", "support_read"),
    [
        ("customer", False, False),
        ("support", False, True),
        ("ops", True, True),
        ("admin", True, True),
    ],
)
def test_role_matrix(groups: str, ops: bool, support_read: bool) -> None:
    caller = caller_from_claims({"sub": "u", "cognito:groups": groups})
    assert caller.has_role("ops") is ops
    assert caller.has_role("ops", "support") is support_read


def test_actor_names_the_caller() -> None:
    assert Caller(sub="u-1").actor() == "u-1"
    assert Caller().actor() == "anonymous"
