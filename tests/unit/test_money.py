"""Money: integer minor units, one currency, exact arithmetic."""

from __future__ import annotations

import pytest
from commerce.domain.money import DEFAULT_CURRENCY, MAX_AMOUNT, Money, MoneyError
from hypothesis import given
from hypothesis import strategies as st

amounts = st.integers(min_value=-(10**12), max_value=10**12)
moneys = amounts.map(Money)

pytestmark = pytest.mark.unit


def test_default_currency_is_cny() -> None:
    assert Money(100).currency == DEFAULT_CURRENCY == "CNY"


@pytest.mark.parametrize("amount", [1.0, 0.5, True, False, "100", None])
def test_rejects_non_integer_amounts(amount: object) -> None:
    with pytest.raises(MoneyError):
        Money(amount)  # type: ignore[arg-type]


@pytest.mark.parametrize("currency", ["USD", "cny", "", "CNY "])
def test_rejects_unsupported_currency(currency: str) -> None:
    with pytest.raises(MoneyError):
        Money(1, currency)


@pytest.mark.parametrize(
    ("amount", "valid"), [(0, True), (MAX_AMOUNT, True), (-1, False), (MAX_AMOUNT + 1, False)]
)
def test_price_bounds(amount: int, valid: bool) -> None:
    assert Money(amount).is_valid_price is valid


def test_wire_shape() -> None:
    assert Money(6800).to_dict() == {"amount": 6800, "currency": "CNY"}


@given(moneys, moneys)
def test_addition_commutes(a: Money, b: Money) -> None:
    assert a + b == b + a


@given(moneys, moneys, moneys)
def test_addition_associates(a: Money, b: Money, c: Money) -> None:
    assert (a + b) + c == a + (b + c)


@given(moneys)
def test_zero_is_identity(a: Money) -> None:
    assert a + Money.zero() == a
    assert a - a == Money.zero()


@given(moneys, moneys)
def test_subtraction_undoes_addition(a: Money, b: Money) -> None:
    assert (a + b) - b == a


@given(moneys, st.integers(min_value=0, max_value=10**6), st.integers(min_value=0, max_value=10**6))
def test_times_distributes_over_quantities(a: Money, m: int, n: int) -> None:
    assert a.times(m + n) == a.times(m) + a.times(n)
    assert isinstance(a.times(m).amount, int)


@given(moneys)
def test_times_rejects_bool_and_float(a: Money) -> None:
    with pytest.raises(MoneyError):
        a.times(True)
    with pytest.raises(MoneyError):
        a.times(1.5)  # type: ignore[arg-type]
