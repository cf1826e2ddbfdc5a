"""Command line of the local stack: `python -m infra.local [--port N] [--no-demo-data] ...`.

Runs until SIGINT or SIGTERM, then stops every child it started and says so.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from infra.local import sam_local
from infra.local.dynamodb_local import JavaMissingError, java_line, require_java
from infra.local.emulators import REPO_ROOT
from infra.local.faults import FaultPlan, FaultPlanInvalid
from infra.local.gateway import DEFAULT_MAX_BODY
from infra.local.runtimes import docker_engine
from infra.local.stack import LocalStack, StackOptions


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m infra.local",
        description="Serve the whole commerce API locally from template.yaml.",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=_env_int("PORT", 3000),
        help="gateway port (env PORT, default 3000; 0 picks a free one)",
    )
    parser.add_argument("--template", type=Path, default=REPO_ROOT / "template.yaml")
    parser.add_argument(
        "--no-demo-data", dest="demo_data", action="store_false", help="start with empty tables"
    )
    parser.add_argument(
        "--ready-file",
        type=Path,
        default=None,
        help="write a JSON with the base url and emulator endpoints when ready",
    )
    parser.add_argument(
        "--max-concurrency",
        type=int,
        default=_env_int("LOCAL_MAX_CONCURRENCY", 4),
        help="workers per function (env LOCAL_MAX_CONCURRENCY, default 4)",
    )
    parser.add_argument(
        "--reservation-ttl",
        type=int,
        default=None,
        help="sets RESERVATION_TTL_SECONDS for the functions",
    )
    parser.add_argument(
        "--payment-provider",
        choices=("sandbox", "stripe"),
        default=None,
        help="who charges cards: the sandbox (default) or Stripe, played by localstripe "
        "(env PAYMENT_PROVIDER)",
    )
    parser.add_argument(
        "--payment-timeout",
        type=int,
        default=None,
        help="sets PAYMENT_TIMEOUT_SECONDS: unpaid orders are cancelled after it (default 1800)",
    )
    parser.add_argument(
        "--sweep-interval",
        type=float,
        default=None,
        help="seconds between schedule runs (env SWEEP_INTERVAL_SECONDS, 60)",
    )
    parser.add_argument(
        "--max-body",
        type=int,
        default=_env_int("LOCAL_MAX_BODY_BYTES", DEFAULT_MAX_BODY),
        help="request body limit in bytes (API Gateway's: 10 MiB)",
    )
    parser.add_argument(
        "--parameter-overrides",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="template parameter values, as for sam deploy",
    )
    parser.add_argument(
        "--no-warm",
        dest="warm",
        action="store_false",
        help="start function workers on first use only",
    )
    parser.add_argument(
        "--metering-dir",
        type=Path,
        default=os.environ.get("LOCAL_METERING_DIR") or None,
        help="record AWS calls, capacity units and invocations as JSON lines in this directory "
        "(env LOCAL_METERING_DIR; off by default; see infra/local/metering.py)",
    )
    parser.add_argument(
        "--log-dir",
        type=Path,
        default=os.environ.get("LOCAL_LOG_DIR") or None,
        help="each function worker writes its log lines to a file of its own in this directory, "
        "<function>-<pid>.log (env LOCAL_LOG_DIR; by default they join the stack's output)",
    )
    parser.add_argument(
        "--sam-env-dir",
        type=Path,
        default=None,
        help="when a Docker engine answers, write the template and env file that point "
        "`sam local start-api` at this stack's emulators into this directory (moto then "
        "listens on every interface so that containers reach it; see infra/local/sam_local.py)",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="access log and emulator output"
    )
    _fault_flags(parser)
    return parser.parse_args(argv)


#: Fault flags: (flag, FaultPlan field, metavar, help). All off by default.
FAULT_FLAGS = (
    ("--kill-workers", "kill_workers", "RATE", "kill this share of function workers mid-request"),
    ("--dynamodb-latency", "dynamodb_latency_ms", "MS", "add this latency to DynamoDB calls"),
    ("--dynamodb-jitter", "dynamodb_jitter_ms", "MS", "and up to this much more, at random"),
    (
        "--dynamodb-throttle",
        "dynamodb_throttle",
        "RATE",
        "throttle this share of DynamoDB calls (ProvisionedThroughputExceededException)",
    ),
    (
        "--dynamodb-errors",
        "dynamodb_errors",
        "RATE",
        "fail this share of DynamoDB calls (InternalServerError, 500)",
    ),
    (
        "--partition-scale",
        "partition_scale",
        "N",
        "enforce DynamoDB's per-partition-key ceilings (1,000 WCU/s, 3,000 RCU/s) divided by N",
    ),
    (
        "--sqs-duplicates",
        "sqs_duplicates",
        "RATE",
        "deliver this share of SQS records twice, at once",
    ),
    (
        "--provider-timeouts",
        "provider_timeouts",
        "RATE",
        "time out this share of the sandbox payment provider's charges, refunds and voids",
    ),
)


def _fault_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "faults",
        "injected once the stack is ready; GET/PATCH/DELETE /_local/faults reads or changes "
        "them while it runs (infra/local/faults.py)",
    )
    for flag, field, metavar, text in FAULT_FLAGS:
        group.add_argument(flag, dest=field, type=float, default=None, metavar=metavar, help=text)


def fault_plan(args: argparse.Namespace) -> FaultPlan:
    """The faults the command line asks for; FaultPlanInvalid names any value out of range."""
    changes = {
        field: getattr(args, field)
        for _, field, _, _ in FAULT_FLAGS
        if getattr(args, field, None) is not None
    }
    return FaultPlan().changed(changes)


def writes_sam_env(args: argparse.Namespace) -> bool:
    """Whether to write the files for `sam local start-api`: asked for, and Docker can run it."""
    return args.sam_env_dir is not None and docker_engine() is not None


def options_from(args: argparse.Namespace) -> StackOptions:
    # Flags are turned into the same environment variables the stack passes through to the
    # functions, so the flag and the variable can never disagree.
    if args.reservation_ttl is not None:
        os.environ["RESERVATION_TTL_SECONDS"] = str(args.reservation_ttl)
    if args.sweep_interval is not None:
        os.environ["SWEEP_INTERVAL_SECONDS"] = str(args.sweep_interval)
    if args.payment_provider is not None:
        os.environ["PAYMENT_PROVIDER"] = args.payment_provider
    if args.payment_timeout is not None:
        os.environ["PAYMENT_TIMEOUT_SECONDS"] = str(args.payment_timeout)
    overrides = dict(item.split("=", 1) for item in args.parameter_overrides)
    if "RESERVATION_TTL_SECONDS" in os.environ:
        overrides.setdefault("ReservationTtlSeconds", os.environ["RESERVATION_TTL_SECONDS"])
    if "PAYMENT_TIMEOUT_SECONDS" in os.environ:
        overrides.setdefault("PaymentTimeoutSeconds", os.environ["PAYMENT_TIMEOUT_SECONDS"])
    return StackOptions(
        template=args.template,
        port=args.port,
        demo_data=args.demo_data,
        max_concurrency=args.max_concurrency,
        sweep_interval=float(os.environ.get("SWEEP_INTERVAL_SECONDS", "60")),
        max_body=args.max_body,
        parameter_overrides=overrides,
        warm=args.warm,
        verbose=args.verbose,
        metering_dir=args.metering_dir,
        log_dir=args.log_dir,
        moto_host="0.0.0.0" if writes_sam_env(args) else "127.0.0.1",
        faults=fault_plan(args),
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if not args.verbose:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's access log
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    if not args.template.exists():
        print(f"error: template not found: {args.template}", file=sys.stderr)
        return 2
    try:
        print(java_line(require_java()), flush=True)
    except JavaMissingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    try:
        options = options_from(args)
    except FaultPlanInvalid as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    stack = LocalStack(options)
    try:
        stack.start()
    except BaseException:
        stack.stop()
        raise
    try:
        if stop.is_set():
            return 0
        base = stack.base_url
        print(f"Commerce API ready on {base}  (docs: {base}/docs)", flush=True)
        print(f"  DynamoDB Local: {stack.dynamodb.endpoint}", flush=True)
        print(f"  moto (SQS, SNS, SES, Cognito, EventBridge): {stack.moto.endpoint}", flush=True)
        if args.demo_data:
            print(f"  demo products loaded: {stack.demo_products}", flush=True)
        cards = f"localstripe {stack.localstripe.endpoint}" if stack.localstripe else "sandbox"
        print(f"  cards: {cards}; Alipay and WeChat Pay: the local provider edge", flush=True)
        if stack.options.faults != FaultPlan():
            armed = {k: v for k, v in stack.faults.plan.to_dict().items() if v}
            print(f"  faults armed: {armed} (/_local/faults)", flush=True)
        if writes_sam_env(args):
            files = sam_local.write(stack.emulators, args.sam_env_dir)
            print(
                f"  for sam local start-api (Docker): {files.template} and {files.env_vars.name}"
                " (README, 'The SAM emulator')",
                flush=True,
            )
        if args.ready_file is not None:
            stack.write_ready_file(args.ready_file)
        while not stop.wait(0.5):
            pass
    finally:
        stack.stop()
        print("Commerce API stopped; every child process has exited.", flush=True)
    return 0
