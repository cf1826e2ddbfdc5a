"""Customer profile, export and erasure over HTTP through the local stack, and support's view."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests

pytestmark = pytest.mark.e2e


def _customer() -> tuple[str, str]:
    sub = str(uuid.uuid4())
    return sub, f"e2e-{sub[:8]}@example.com"


def test_profile_export_and_erasure(stack: Any) -> None:
    base = stack.base_url
    sub, email = _customer()
    me = stack.auth(sub, ["customer"], email)

    first = requests.get(f"{base}/me", headers=me, timeout=30)
    assert first.status_code == 200, first.text
    assert first.json()["customer_id"] == sub
    assert first.json()["email"] == email

    patched = requests.patch(
        f"{base}/me",
        json={"marketing_consent": True, "notification_channels": ["email", "push"]},
        headers=me,
        timeout=30,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["marketing_consent"] is True
    bad = requests.patch(f"{base}/me", json={"nickname": "x"}, headers=me, timeout=30)
    assert bad.status_code == 400, bad.text

    device = requests.post(
        f"{base}/me/devices", json={"platform": "web", "token": "e2e-push"}, headers=me, timeout=30
    )
    assert device.status_code == 201, device.text

    export = requests.get(f"{base}/me/export", headers=me, timeout=30)
    assert export.status_code == 200, export.text
    doc = export.json()
    for section in ("profile", "consents", "devices", "addresses", "orders", "points", "messages"):
        assert section in doc
    assert doc["profile"]["email"] == email
    assert [c["action"] for c in doc["consents"]] == ["given"]
    assert [d["platform"] for d in doc["devices"]] == ["web"]

    support = requests.get(
        f"{base}/admin/customers/{sub}", headers=stack.auth("e2e-support", ["support"]), timeout=30
    )
    assert support.status_code == 200, support.text
    assert support.json()["profile"]["email"] == email
    assert support.json()["tier"] == "member"
    other = stack.auth(str(uuid.uuid4()), ["customer"])
    refused = requests.get(f"{base}/admin/customers/{sub}", headers=other, timeout=30)
    assert refused.status_code == 403, refused.text

    erased = requests.delete(f"{base}/me", headers=me, timeout=30)
    assert erased.status_code == 204, erased.text
    gone = requests.get(
        f"{base}/admin/customers/{sub}", headers=stack.auth("e2e-support", ["support"]), timeout=30
    )
    assert gone.status_code == 404, gone.text
    # The sign-in is disabled, and the token issued before, though it has not expired, is
    # refused everywhere: a retried erasure too, and GET /me re-creates no profile.
    for method in ("DELETE", "GET"):
        again = requests.request(method, f"{base}/me", headers=me, timeout=30)
        assert again.status_code == 401, again.text
    still_gone = requests.get(
        f"{base}/admin/customers/{sub}", headers=stack.auth("e2e-support", ["support"]), timeout=30
    )
    assert still_gone.status_code == 404, still_gone.text


def test_unauthenticated_is_401(stack: Any) -> None:
    reply = requests.get(f"{stack.base_url}/me", timeout=30)
    assert reply.status_code == 401, reply.text
