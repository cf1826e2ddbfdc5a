"""The coupon admin API on moto: ops and admin define and change coupons, support reads them.

Definitions are validated by the domain (every bad field in one 400), a taken code is 409, and
a PATCH re-validates the whole coupon and never touches its use count.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest
from orders_world import Reply, event, invoke, load_function, problem

pytestmark = pytest.mark.integration

PERCENT = {
    "code": "welcome-10",
    "kind": "percentage",
    "rate_bp": 1000,
    "cap": {"amount": 5000, "currency": "CNY"},
    "usage_limit": 100,
}


@pytest.fixture(scope="module")
def coupons_module() -> ModuleType:
    return load_function("coupons")


@pytest.fixture
def admin_api(dynamodb: Any, coupons_module: ModuleType) -> Any:
    def call(sample: str, who: str | None = "ops", **kwargs: Any) -> Reply:
        return invoke(coupons_module, event(sample, who=who, **kwargs))

    return call


def test_create_then_read(admin_api: Any) -> None:
    created = admin_api("coupons_create.json", body=PERCENT)
    assert created.status == 201, created.body
    assert created.body["code"] == "WELCOME-10"
    assert created.body["rate_bp"] == 1000
    assert created.body["uses_total"] == 0
    assert created.body["active"] is True
    assert created.body["stackable"] is True
    got = admin_api("coupons_get.json", who="support", params={"code": "welcome-10"})
    assert got.status == 200, got.body
    assert got.body == created.body


def test_code_taken_is_409(admin_api: Any) -> None:
    assert admin_api("coupons_create.json", body=PERCENT).status == 201
    again = admin_api("coupons_create.json", who="admin", body={**PERCENT, "code": "WELCOME-10"})
    problem(again, 409, "conflict")


def test_every_bad_field_in_one_400(admin_api: Any) -> None:
    reply = admin_api(
        "coupons_create.json",
        body={"code": "x", "kind": "amount", "rate_bp": 10, "usage_limit": 0, "colour": "red"},
    )
    problem(reply, 400, "validation-error")
    fields = {e["field"] for e in reply.body["errors"]}
    assert {"code", "rate_bp", "amount", "usage_limit", "colour"} <= fields


def test_not_an_object_is_400(admin_api: Any) -> None:
    problem(admin_api("coupons_create.json", raw_body="[1, 2]"), 400, "validation-error")


@pytest.mark.parametrize(("who", "status"), [(None, 401), ("customer", 403), ("support", 403)])
def test_writes_need_ops(admin_api: Any, who: str | None, status: int) -> None:
    reply = admin_api("coupons_create.json", who=who, body=PERCENT)
    assert reply.status == status, reply.body


def test_customer_cannot_read(admin_api: Any) -> None:
    assert admin_api("coupons_list.json", who="customer").status == 403


def test_unknown_is_404(admin_api: Any) -> None:
    problem(admin_api("coupons_get.json", params={"code": "NOPE-1"}), 404, "not-found")
    problem(
        admin_api("coupons_patch.json", params={"code": "NOPE-1"}, body={"active": False}),
        404,
        "not-found",
    )


def test_patch_revalidates_and_keeps_identity(admin_api: Any) -> None:
    assert admin_api("coupons_create.json", body=PERCENT).status == 201
    params = {"code": "WELCOME-10"}
    changed = admin_api("coupons_patch.json", params=params, body={"active": False, "cap": None})
    assert changed.status == 200, changed.body
    assert changed.body["active"] is False
    assert "cap" not in changed.body
    assert changed.body["rate_bp"] == 1000
    problem(
        admin_api("coupons_patch.json", params=params, body={"kind": "amount"}),
        400,
        "validation-error",
    )
    bad = admin_api("coupons_patch.json", params=params, body={"rate_bp": 10_000})
    problem(bad, 400, "validation-error")
    assert bad.body["errors"][0]["field"] == "rate_bp"
    problem(
        admin_api("coupons_patch.json", who="support", params=params, body={"active": True}),
        403,
        "forbidden",
    )


def test_list_pages_through_every_coupon(admin_api: Any) -> None:
    codes = [f"PAGE-{i:02d}" for i in range(5)]
    for code in codes:
        body = {"code": code, "kind": "amount", "amount": {"amount": 100, "currency": "CNY"}}
        assert admin_api("coupons_create.json", body=body).status == 201
    seen: list[str] = []
    token: str | None = None
    while True:
        query = {"limit": "2", **({"next_token": token} if token else {})}
        page = admin_api("coupons_list.json", who="support", query=query)
        assert page.status == 200, page.body
        seen += [item["code"] for item in page.body["items"]]
        token = page.body.get("next_token")
        if not token:
            break
    assert seen == codes
    problem(
        admin_api("coupons_list.json", query={"next_token": "bm90LWEtdG9rZW4"}),
        400,
        "validation-error",
    )


def test_times_and_limits_out_of_range_are_400(admin_api: Any) -> None:
    far = {**PERCENT, "valid_from": 10**20}
    reply = admin_api("coupons_create.json", body=far)
    problem(reply, 400, "validation-error")
    assert reply.body["errors"][0]["field"] == "valid_from"
    huge = {**PERCENT, "usage_limit": 10**400}
    problem(admin_api("coupons_create.json", body=huge), 400, "validation-error")
