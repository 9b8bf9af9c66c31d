"""What every custom-resource handler of this library needs, written once.

The construct stages this file beside each handler's ``index.py`` (and crhelper), so handlers import it
as the top-level module ``custom_resource``. It holds no handler's state: each handler makes its own
``CfnResource`` with :func:`cfn_resource` and registers its own create/update/delete on it.
"""

from __future__ import annotations

import logging
import os
import random
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

import boto3  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.exceptions import ClientError  # type: ignore[import-untyped]
from crhelper import CfnResource

logger = logging.getLogger(__name__)

# Throttling and transient errors are botocore's job; "standard" mode retries them with backoff.
BOTO_CONFIG = Config(retries={"mode": "standard", "total_max_attempts": 8})
SAGEMAKER: Any = None  # made by sagemaker() on first use; tests put a stubbed client here
SSM: Any = None  # made by ssm() on first use (the Studio function's ledger); tests reset it
ECR: dict[str, Any] = {}  # made by ecr() per region on first use (the base image check); tests fill it

# ResourceInUse (a concurrent change, a resource still busy) is ours to retry, bounded so that crhelper
# still has time to answer: at most MAX_ATTEMPTS calls, and no sleep that would end after the
# invocation's Deadline (by default MAX_RETRY_SECONDS after it started, and never later than
# SAFETY_MARGIN_SECONDS before the Lambda deadline).
MAX_ATTEMPTS = 10
MAX_RETRY_SECONDS = 180.0
SAFETY_MARGIN_SECONDS = 30.0
MAX_DELAY_SECONDS = 30.0  # delays double from 1 s up to this, each times a random 0.5-1 (jitter)
sleep: Callable[[float], None] = time.sleep  # patched by tests
clock: Callable[[], float] = time.monotonic  # patched by tests
GENERATED_TAIL = re.compile(r"[A-Z0-9]{8}", re.ASCII)  # crhelper's random end of a made-up physical id


def sagemaker() -> Any:
    """The SageMaker client, made on first use, inside crhelper's error handling.

    Made at import, a failure would be an init error that CloudFormation never hears about; and the
    paths that need no client (bad input, a failed Create's rollback) answer without its ~250 ms.
    """
    global SAGEMAKER
    if SAGEMAKER is None:
        SAGEMAKER = boto3.client("sagemaker", config=BOTO_CONFIG)
    return SAGEMAKER


def ssm() -> Any:
    """The SSM client (Parameter Store), made on first use like :func:`sagemaker`."""
    global SSM
    if SSM is None:
        SSM = boto3.client("ssm", config=BOTO_CONFIG)
    return SSM


def ecr(region: str) -> Any:
    """The ECR client of one region (an image's registry is read in its own region), made on first use
    like :func:`sagemaker`."""
    client = ECR.get(region)
    if client is None:
        client = ECR[region] = boto3.client("ecr", region_name=region, config=BOTO_CONFIG)
    return client


def cfn_resource() -> CfnResource:
    """A new crhelper, configured, and without the lambda, events and logs clients it builds for polling.

    Its defaults log the event (with its pre-signed ResponseURL) at DEBUG and sleep 120 s per Delete.
    These functions never poll, yet crhelper 2.0.12 builds those clients on import (about 180 ms of
    every cold start) unless AWS_SAM_LOCAL is set, a switch it reads nowhere else while polling is off.
    """
    saved = os.environ.get("AWS_SAM_LOCAL")
    os.environ["AWS_SAM_LOCAL"] = "true"
    try:
        return CfnResource(json_logging=False, log_level="INFO", boto_level="CRITICAL", sleep_on_delete=0)
    finally:
        if saved is None:
            del os.environ["AWS_SAM_LOCAL"]
        else:
            os.environ["AWS_SAM_LOCAL"] = saved


def show(value: Any) -> str:
    """repr, cut short, so a reason stays within crhelper's 256 characters (it keeps only the end)."""
    return repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


class Deadline:
    """One invocation's time budget for retries and waits, started when it is made.

    It ends ``max_seconds`` later, or SAFETY_MARGIN_SECONDS before the Lambda deadline if that is sooner,
    so crhelper answers with our reason rather than its own "Execution timed out".
    """

    def __init__(self, context: Any, max_seconds: float = MAX_RETRY_SECONDS) -> None:
        left = context.get_remaining_time_in_millis() / 1000.0 - SAFETY_MARGIN_SECONDS
        self.started = clock()
        self.at: float = self.started + min(max_seconds, left)

    def fits(self, delay: float) -> bool:
        """Whether a sleep of ``delay`` seconds from now would end within the budget."""
        return clock() + delay <= self.at

    def elapsed(self) -> float:
        return clock() - self.started

    def wait(self, delay: float) -> bool:
        """Sleep ``delay`` seconds if that fits the budget; else return False at once."""
        if not self.fits(delay):
            return False
        sleep(delay)
        return True


def retry_in_use(call: Callable[..., Any], *, deadline: Deadline, what: str, **params: Any) -> Any:
    """``call(**params)``, again after a jittered, doubling sleep while it raises ResourceInUse.

    Gives up with a RuntimeError naming ``what`` after MAX_ATTEMPTS calls, or when the next sleep would
    pass the deadline. Every other error is raised as it is.
    """
    attempt = 0
    while True:
        attempt += 1
        try:
            return call(**params)
        except ClientError as error:
            if error_code(error) != "ResourceInUse":
                raise
            delay = min(MAX_DELAY_SECONDS, 2.0 ** (attempt - 1)) * random.uniform(0.5, 1.0)
            if attempt >= MAX_ATTEMPTS or not deadline.fits(delay):
                raise RuntimeError(f"{what} still busy after {attempt} attempts: {error}") from error
            name = getattr(call, "__name__", "call")
            logger.info("%s: ResourceInUse, retry %d in %.1f s", name, attempt, delay)
            sleep(delay)


def make_physical_id(*parts: str) -> str:
    """A deterministic physical id: the parts joined by '/', so that it parses back unambiguously.

    Deterministic, so a retried Create answers the same id, and a change of any part is a replacement.
    """
    for part in parts:
        if not part or "/" in part:
            raise ValueError(f"a physical id part must be non-empty and free of '/', got {show(part)}")
    return "/".join(parts)


def generated_by_crhelper(event: Mapping[str, Any]) -> bool:
    """Whether the event's physical id is one crhelper makes up when a Create fails before naming one:
    ``<stack name>_<logical id>_<8 uppercase letters or digits>``."""
    stack = str(event.get("StackId", "")).split("/")
    if len(stack) < 2:
        return False
    head = f"{stack[1]}_{event.get('LogicalResourceId', '')}_"
    physical_id = str(event.get("PhysicalResourceId", ""))
    return physical_id.startswith(head) and bool(GENERATED_TAIL.fullmatch(physical_id[len(head) :]))


def parse_physical_id(event: Mapping[str, Any], pattern: re.Pattern[str]) -> re.Match[str] | None:
    """The event's physical id matched against the handler's own form, or None if it is not ours.

    Not ours is usually the id crhelper generated for a Create that failed (CloudFormation's rollback
    then deletes it, and there is nothing to undo); the log line says so only when the id looks like one.
    """
    match = pattern.fullmatch(str(event.get("PhysicalResourceId", "")))
    if not match:
        if generated_by_crhelper(event):
            logger.info("Physical id is not ours (a failed Create's, made up by crhelper): nothing to delete")
        else:
            logger.info(
                "Physical id %s is not ours (not of this function's form): nothing to delete",
                show(event.get("PhysicalResourceId")),
            )
    return match
