"""Who may be sent what, on which channel: pure rules over preferences and consent.

``channels_for(event_type, preferences, consent)`` is the one place that decides:

- transactional events (orders) go to the channels the customer enabled, email when they never
  chose; an explicit empty choice means none;
- marketing events (``cart.abandoned``) go the same way, but only while the customer's current
  marketing consent is given: never to guests, never on a presumed consent;
- operational events (``inventory.low_stock``) go only to staff, never to customers;
- a channel is used only where there is an address: email needs an email address, SMS a phone
  number, push a registered device; guests (no profile, no choices) get email only.

Consent is kept as a history of records (what, given or withdrawn, when, from where), so it can
be shown and exported as it was expressed; the current consent is the latest record per
``what`` (``current_consent``), and with no record at all it is not given.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from commerce.notifications import (
    CHANNEL_ORDER,
    PURPOSES,
    Channel,
    EventType,
    NotificationError,
    Purpose,
    event_type,
)

#: The ``what`` of marketing consent (``marketing_consent`` of ``PATCH /me``).
MARKETING: Final = "marketing"

#: Channels of someone who never chose any.
DEFAULT_CHANNELS: Final = frozenset({Channel.EMAIL})


class Audience(StrEnum):
    """Who a recipient is, as far as the rules care."""

    #: A signed-in customer with a profile: their choices and consent apply.
    CUSTOMER = "customer"
    #: Someone who checked out without an account: email only, never marketing.
    GUEST = "guest"
    #: The shop's own people (ops alerts): operational events only.
    STAFF = "staff"


class ConsentAction(StrEnum):
    GIVEN = "given"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True)
class ConsentRecord:
    """``what`` was given or withdrawn at ``at`` (epoch seconds) through ``source``.

    ``source`` says where it was expressed (``"PATCH /me"``, ``"checkout"``, ``"support"``), so
    the record answers "when and how did they agree" on its own.
    """

    what: str
    action: ConsentAction
    at: int
    source: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "what": self.what,
            "action": self.action.value,
            "at": self.at,
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> ConsentRecord:
        try:
            action = ConsentAction(raw["action"])
            at = raw["at"]
            if isinstance(at, bool) or not isinstance(at, int):
                raise TypeError("at")
            return cls(what=str(raw["what"]), action=action, at=at, source=str(raw["source"]))
        except (KeyError, TypeError, ValueError) as error:
            raise NotificationError(f"not a consent record: {error}") from None


def current_consent(history: Iterable[ConsentRecord], what: str) -> bool:
    """Whether ``what`` is consented to now: the latest record about it is a ``given``.

    Latest by ``at``; of records with the same ``at``, the one later in the history. No record
    means no consent: it is never presumed.
    """
    latest: ConsentRecord | None = None
    for record in history:
        if record.what == what and (latest is None or record.at >= latest.at):
            latest = record
    return latest is not None and latest.action is ConsentAction.GIVEN


@dataclass(frozen=True)
class Preferences:
    """A recipient as the rules see them: their choice of channels and where they can be reached.

    ``channels`` is None when they never chose (then email); an empty set means they turned
    every channel off.
    """

    audience: Audience
    channels: frozenset[Channel] | None = None
    has_email: bool = False
    has_phone: bool = False
    has_device: bool = False

    def reachable(self, channel: Channel) -> bool:
        if channel is Channel.EMAIL:
            return self.has_email
        if channel is Channel.SMS:
            return self.has_phone
        return self.has_device


def _enabled(preferences: Preferences) -> frozenset[Channel]:
    if preferences.audience is Audience.GUEST:
        return DEFAULT_CHANNELS  # a guest has no stored choice and no phone or device on file
    if preferences.channels is None:
        return DEFAULT_CHANNELS
    return preferences.channels


def _allowed(purpose: Purpose, audience: Audience, consent: Iterable[ConsentRecord]) -> bool:
    if purpose is Purpose.OPERATIONAL:
        return audience is Audience.STAFF
    if audience is Audience.STAFF:
        return False  # staff get alerts, not the customer messages of their own orders here
    if purpose is Purpose.MARKETING:
        return audience is Audience.CUSTOMER and current_consent(consent, MARKETING)
    return True


def channels_for(
    event: str | EventType, preferences: Preferences, consent: Iterable[ConsentRecord] = ()
) -> list[Channel]:
    """The channels a message about ``event`` goes out on to this recipient, in CHANNEL_ORDER.

    Empty when the recipient may not receive it at all. ``UnknownEvent`` for an event type
    with no rules.
    """
    purpose = PURPOSES[event_type(event)]
    if not _allowed(purpose, preferences.audience, consent):
        return []
    enabled = _enabled(preferences)
    return [c for c in CHANNEL_ORDER if c in enabled and preferences.reachable(c)]
