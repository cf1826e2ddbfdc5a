"""Schedules: SAM Schedule/ScheduleV2 events, AWS::Events::Rule and AWS::Scheduler::Schedule.

They are recorded in moto's EventBridge (so they can be listed like deployed rules) and fired
at a fixed local interval: SWEEP_INTERVAL_SECONDS (default 60) stands in for every rate, so a
test can make the reservation sweeper run every second instead of every minute.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from infra.local.functions import FunctionSpec
from infra.local.template import ACCOUNT_ID, REGION, STACK_NAME, Resolver, resources_of_type
from infra.local.workers import FunctionPool, InvokeError

log = logging.getLogger("infra.local.schedules")


@dataclass
class Schedule:
    """One schedule that targets one of the template's functions."""

    name: str
    function: str  # logical id
    expression: str
    source: str  # aws.events or aws.scheduler
    input: Any = None
    enabled: bool = True

    @property
    def arn(self) -> str:
        if self.source == "aws.scheduler":
            return f"arn:aws:scheduler:{REGION}:{ACCOUNT_ID}:schedule/default/{self.name}"
        return f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{self.name}"

    def event(self) -> Any:
        if self.input is not None:
            return json.loads(self.input) if isinstance(self.input, str) else self.input
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": self.source,
            "account": ACCOUNT_ID,
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": REGION,
            "resources": [self.arn],
            "detail": {},
        }


def _target_function(arn: Any, functions: dict[str, FunctionSpec]) -> str | None:
    if isinstance(arn, dict) and "Fn::GetAtt" in arn:
        target = arn["Fn::GetAtt"]
        logical = str(target[0] if isinstance(target, list) else str(target).split(".")[0])
        return logical if logical in functions else None
    if isinstance(arn, dict) and "Ref" in arn and arn["Ref"] in functions:
        return str(arn["Ref"])
    return None


def _enabled(props: dict[str, Any]) -> bool:
    if props.get("Enabled") in (False, "false"):
        return False
    return bool(props.get("State", "ENABLED") == "ENABLED")


def load_schedules(
    template: dict[str, Any], resolver: Resolver, functions: list[FunctionSpec]
) -> list[Schedule]:
    """Every schedule in the template that targets a function of the template."""
    by_id = {function.logical_id: function for function in functions}
    found: list[Schedule] = []
    for function in functions:
        for event_name, event in function.events.items():
            if not isinstance(event, dict) or event.get("Type") not in ("Schedule", "ScheduleV2"):
                continue
            props = resolver.resolve(event.get("Properties") or {})
            found.append(
                Schedule(
                    name=str(
                        props.get("Name") or f"{STACK_NAME}-{function.logical_id}-{event_name}"
                    ),
                    function=function.logical_id,
                    expression=str(props.get("Schedule") or props.get("ScheduleExpression")),
                    source="aws.events" if event["Type"] == "Schedule" else "aws.scheduler",
                    input=props.get("Input"),
                    enabled=_enabled(props),
                )
            )
    for logical, spec in resources_of_type(template, "AWS::Events::Rule").items():
        raw = spec.get("Properties") or {}
        if "ScheduleExpression" not in raw:
            continue
        for target in raw.get("Targets") or []:
            rule_target = _target_function(target.get("Arn"), by_id)
            if rule_target is None:
                continue
            props = resolver.resolve(raw)
            found.append(
                Schedule(
                    name=resolver.physical_name(logical),
                    function=rule_target,
                    expression=str(props["ScheduleExpression"]),
                    source="aws.events",
                    input=resolver.resolve(target.get("Input")),
                    enabled=_enabled(props),
                )
            )
    for logical, spec in resources_of_type(template, "AWS::Scheduler::Schedule").items():
        raw = spec.get("Properties") or {}
        target = raw.get("Target") or {}
        schedule_target = _target_function(target.get("Arn"), by_id)
        if schedule_target is None:
            continue
        props = resolver.resolve(raw)
        found.append(
            Schedule(
                name=resolver.physical_name(logical),
                function=schedule_target,
                expression=str(props.get("ScheduleExpression")),
                source="aws.scheduler",
                input=resolver.resolve(target.get("Input")),
                enabled=_enabled(props),
            )
        )
    return found


def record_schedules(schedules: list[Schedule], events_client: Any) -> None:
    """Put each schedule in moto's EventBridge as a rule, for inspection like on AWS."""
    for schedule in schedules:
        try:
            events_client.put_rule(
                Name=schedule.name,
                ScheduleExpression=schedule.expression,
                State="ENABLED" if schedule.enabled else "DISABLED",
            )
        except Exception as exc:  # recording is informative only; firing does not depend on it
            log.warning("could not record schedule %s: %s", schedule.name, exc)


class Ticker:
    """Fires every enabled schedule every `interval` seconds, each in its own thread so a slow
    target never delays another."""

    def __init__(
        self, schedules: list[Schedule], pools: dict[str, FunctionPool], interval: float
    ) -> None:
        self.schedules = [s for s in schedules if s.enabled and s.function in pools]
        self.pools = pools
        self.interval = max(0.1, interval)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="schedules", daemon=True)

    def start(self) -> None:
        if self.schedules:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def fire(self, schedule: Schedule) -> None:
        try:
            result = self.pools[schedule.function].invoke(schedule.event())
            if not result.ok:
                log.error(
                    "schedule %s: %s raised %s", schedule.name, schedule.function, result.payload
                )
        except InvokeError as exc:
            if self._stop.is_set():
                return  # the stack is stopping under this run
            log.error("schedule %s: %s failed: %s", schedule.name, schedule.function, exc)

    def _run(self) -> None:
        busy: dict[str, threading.Thread] = {}
        while not self._stop.wait(self.interval):
            for schedule in self.schedules:
                running = busy.get(schedule.name)
                if running is not None and running.is_alive():
                    continue  # one run at a time per schedule, like a rate rule with a slow target
                thread = threading.Thread(
                    target=self.fire, args=(schedule,), name=f"fire-{schedule.name}", daemon=True
                )
                busy[schedule.name] = thread
                thread.start()
