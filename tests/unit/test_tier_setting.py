"""The member tier table is configuration: MEMBER_TIERS replaces the documented defaults."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from commerce.domain.money import Money
from commerce.domain.tiers import DEFAULT_TIERS, tier_for
from commerce.loyalty import tiers
from commerce.settings import get_settings


@pytest.fixture(autouse=True)
def fresh_settings() -> Iterator[None]:
    get_settings.cache_clear()
    tiers.tier_table.cache_clear()
    yield
    get_settings.cache_clear()
    tiers.tier_table.cache_clear()


def test_without_a_setting_the_defaults_apply(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEMBER_TIERS", raising=False)
    assert tiers.tier_table() == DEFAULT_TIERS


def test_the_setting_replaces_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMBER_TIERS", "member:0:0,vip:50000:1000")
    table = tiers.tier_table()
    assert [t.name for t in table.tiers] == ["member", "vip"]
    assert tier_for(Money(50_000, "CNY"), table).rate_bp == 1000
    assert tier_for(Money(49_999, "CNY"), table).name == "member"
