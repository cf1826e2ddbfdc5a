"""Cognito group parsing and role checks."""

from __future__ import annotations

import pytest
from commerce.http.auth import Caller, caller_from_claims
from commerce.http.claims import ROLES, parse_groups
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


def test_a_caller_logged_by_mistake_names_no_one() -> None:
    """Defect 5 wrote a staff member's email into coupon logs through the caller's repr: the
    repr of a caller, and of the customers' richer identity, now holds the subject id alone."""
    from commerce.customers.profiles import Identity

    claims = {
        "sub": "5f0c1e2d-0000-4000-8000-0000000000aa",
        "email": "li.na@example.com",
        "cognito:username": "li.na",
        "name": "Li Na",
        "cognito:groups": "support",
    }
    for principal in (caller_from_claims(claims), Identity.from_claims(claims)):
        shown = f"{principal!r} {principal!s}"
        assert claims["sub"] in shown
        for personal in ("li.na@example.com", "li.na", "Li Na"):
            assert personal not in shown
    assert caller_from_claims(claims).email == "li.na@example.com"  # still there to use
