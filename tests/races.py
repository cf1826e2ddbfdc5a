"""N identical requests at once, and what their answers may be: the suite's one race check for
state-changing routes (issue 11: every retry answers like the first).

``burst`` sends the same request from ``count`` threads released together (``all_at_once``);
``Burst.answered_alike`` then holds the answers to the rule: never a 5xx; every answer is the
route's success, all with one body (or one projection of it, where a body names the moment it
was read), or one of the refusals the route documents for a request already done (a 409 saying
the state has moved on, a 404 for what the first removed). What the requests did is then read
back by the test (stock, refunds, points, status): the answers alone prove nothing about the
effect.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import requests
from concurrency import all_at_once
from http_problems import PROBLEM, content_type

#: Threads per burst: enough to make the races real on DynamoDB Local, few enough for the
#: stack's four workers per function to answer without queueing for long.
COUNT = 8


@dataclass(frozen=True)
class Burst:
    """The answers to one burst of identical requests."""

    answers: list[requests.Response]

    @property
    def statuses(self) -> Counter[int]:
        return Counter(answer.status_code for answer in self.answers)

    def answered_alike(
        self,
        success: int,
        *,
        refusals: Mapping[int, str] | None = None,
        same: Callable[[Any], Any] = lambda body: body,
    ) -> list[requests.Response]:
        """Assert the rule (module docstring); the successful answers, at least one.

        ``refusals`` maps each documented status of a request already done to its problem
        type, e.g. ``{409: "conflict"}``; ``same`` projects a success body before comparing.
        """
        allowed = dict(refusals or {})
        said = ", ".join(f"{a.status_code} {a.text[:300]}" for a in self.answers)
        assert all(a.status_code < 500 for a in self.answers), said
        succeeded = [a for a in self.answers if a.status_code == success]
        assert succeeded, f"no {success} among: {said}"
        for answer in self.answers:
            if answer.status_code == success:
                continue
            assert answer.status_code in allowed, f"{answer.status_code} is not documented: {said}"
            assert content_type(dict(answer.headers)) == PROBLEM, said
            assert answer.json()["type"] == allowed[answer.status_code], said
        bodies = [same(a.json()) if a.content else None for a in succeeded]
        assert all(body == bodies[0] for body in bodies), f"successes differ: {bodies}"
        return succeeded


def burst(send: Callable[[], requests.Response], count: int = COUNT) -> Burst:
    """``send`` called by ``count`` threads at once; a transport error fails the test."""
    results = all_at_once(count, send)
    errors = [r for r in results if isinstance(r, Exception)]
    assert not errors, errors
    return Burst([r for r in results if isinstance(r, requests.Response)])


def request(method: str, url: str, **kwargs: Any) -> Callable[[], requests.Response]:
    """One request, ready to be sent again and again."""
    return lambda: requests.request(method, url, timeout=60, **kwargs)
