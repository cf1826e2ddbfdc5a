"""Money as integer minor units in one currency, never a float.

Prices are summed and multiplied when carts and orders are priced; floats would drift by a fen
and mixed currencies would add nonsense, so both are ruled out here, once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

#: The only currency the store sells in. Adding one is a business decision (prices, payment
#: providers, rounding), so it is named here and nowhere else.
DEFAULT_CURRENCY: Final = "CNY"
SUPPORTED_CURRENCIES: Final = frozenset({DEFAULT_CURRENCY})

#: Largest amount a single price may carry (10^10 fen = 100 million yuan).
MAX_AMOUNT: Final = 10**10


class MoneyError(ValueError):
    """A money value or operation that the rules above forbid."""


@dataclass(frozen=True, order=False)
class Money:
    """An amount of minor units (fen) in a supported currency."""

    amount: int
    currency: str = DEFAULT_CURRENCY

    def __post_init__(self) -> None:
        # bool is an int subclass; True fen is a bug, not a price.
        if isinstance(self.amount, bool) or not isinstance(self.amount, int):
            raise MoneyError("amount must be an integer number of minor units")
        if self.currency not in SUPPORTED_CURRENCIES:
            raise MoneyError(f"unsupported currency {self.currency!r}")

    @classmethod
    def zero(cls, currency: str = DEFAULT_CURRENCY) -> Money:
        return cls(0, currency)

    def _same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise MoneyError(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount - other.amount, self.currency)

    def times(self, quantity: int) -> Money:
        """The price of ``quantity`` units; quantities are whole, so this stays exact."""
        if isinstance(quantity, bool) or not isinstance(quantity, int):
            raise MoneyError("quantity must be an integer")
        return Money(self.amount * quantity, self.currency)

    @property
    def is_valid_price(self) -> bool:
        """A price a product may carry: 0..MAX_AMOUNT (free items are allowed)."""
        return 0 <= self.amount <= MAX_AMOUNT

    def to_dict(self) -> dict[str, int | str]:
        """The wire shape of API.md: ``{"amount": int, "currency": "CNY"}``."""
        return {"amount": self.amount, "currency": self.currency}
