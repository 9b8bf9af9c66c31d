"""Custom::SageMakerImageVersionAliases: keep floating aliases (e.g. ``latest``) on one image version.

SageMaker lets an alias name at most one version of an image, and CloudFormation creates version N+1
before it touches version N, so an alias must be *moved*: deleted from its holder, then added here.
Built on crhelper, which answers CloudFormation itself; no polling, everything waits in-invocation.
"""

from __future__ import annotations

import logging
import os
import random
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

import boto3  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.exceptions import ClientError  # type: ignore[import-untyped]
from crhelper import CfnResource

logger = logging.getLogger(__name__)

# Exactly the SageMaker actions this code calls; the function's IAM policy must grant these and no more.
SAGEMAKER_ACTIONS = (
    "sagemaker:UpdateImageVersion",
    "sagemaker:DescribeImageVersion",
    "sagemaker:ListAliases",
)

# Throttling and transient errors are botocore's job; "standard" mode retries them with backoff.
BOTO_CONFIG = Config(retries={"mode": "standard", "total_max_attempts": 8})
SAGEMAKER: Any = None  # made by sagemaker() on first use; tests put a stubbed client here


def sagemaker() -> Any:
    """The SageMaker client, made on first use, inside crhelper's error handling.

    Made at import, a failure would be an init error that CloudFormation never hears about; and the
    paths that need no client (bad input, a failed Create's rollback) answer without its ~250 ms.
    """
    global SAGEMAKER
    if SAGEMAKER is None:
        SAGEMAKER = boto3.client("sagemaker", config=BOTO_CONFIG)
    return SAGEMAKER


# ResourceInUse (a concurrent change, or a version still CREATING) is ours to retry, bounded so that
# crhelper still has time to answer: at most MAX_ATTEMPTS calls, and no sleep that would end later than
# MAX_RETRY_SECONDS after the invocation started or SAFETY_MARGIN_SECONDS before the Lambda deadline.
MAX_ATTEMPTS = 10
MAX_RETRY_SECONDS = 180.0
SAFETY_MARGIN_SECONDS = 30.0
MAX_DELAY_SECONDS = 30.0  # delays double from 1 s up to this, each times a random 0.5-1 (jitter)
sleep: Callable[[float], None] = time.sleep  # patched by tests
clock: Callable[[], float] = time.monotonic  # patched by tests


def _cfn_resource() -> CfnResource:
    """crhelper, configured, and without the lambda, events and logs clients it builds for polling.

    Its defaults log the event (with its pre-signed ResponseURL) at DEBUG and sleep 120 s per Delete.
    This function never polls, yet crhelper 2.0.12 builds those clients on import (about 180 ms of every
    cold start) unless AWS_SAM_LOCAL is set, a switch it reads nowhere else while polling is off.
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


helper = _cfn_resource()

_NAME = r"[a-zA-Z0-9](?:[-.]?[a-zA-Z0-9]){0,62}"  # SageMaker's image name rule
IMAGE_NAME = re.compile(_NAME, re.ASCII)
ALIAS = re.compile(r"(?!^[.-])^([a-zA-Z0-9-_.]+)$", re.ASCII)  # SageMaker's (Java) rule, whole value
VERSION = re.compile(r"[0-9]{1,10}", re.ASCII)
PHYSICAL_ID = re.compile(rf"(?P<image>{_NAME})/(?P<version>[1-9][0-9]*)/aliases", re.ASCII)


def handler(event: dict[str, Any], context: Any) -> None:
    """Lambda entry point: crhelper dispatches, and answers SUCCESS, or FAILED with str(error)."""
    helper(event, context)


def physical_id(image: str, version: int) -> str:
    """Deterministic, so a retried Create answers the same id and a new version means replacement."""
    return f"{image}/{version}/aliases"


def _show(value: Any) -> str:
    """repr, cut short, so the reason stays within crhelper's 256 characters (it cuts from the front)."""
    return repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _parse(props: dict[str, Any]) -> tuple[str, int, list[str]]:
    """Validate ResourceProperties up front, so bad input fails at once with a reason naming it."""
    image = props.get("ImageName")
    if not image:
        raise ValueError("ImageName is required")
    if not isinstance(image, str) or not IMAGE_NAME.fullmatch(image):
        raise ValueError(f"ImageName {_show(image)} is not a valid SageMaker image name")
    raw = props.get("Version")
    if isinstance(raw, bool) or not VERSION.fullmatch(str(raw)) or int(str(raw)) < 1:
        raise ValueError(f"Version must be a positive integer, got {_show(raw)}")
    aliases = props.get("Aliases")
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise ValueError(f"Aliases must be a list of strings, got {_show(aliases)}")
    for alias in aliases:
        if not 1 <= len(alias) <= 128 or not ALIAS.fullmatch(alias):
            raise ValueError(
                f"Alias {_show(alias)} is invalid: SageMaker wants 1-128 letters, digits, '-', '_', '.',"
                " not starting with '-' or '.'"
            )
    return image, int(str(raw)), list(dict.fromkeys(aliases))


def _listed(props: dict[str, Any]) -> list[str]:
    """Aliases of already-accepted properties (old ones, or a Delete's): lenient, never fails."""
    aliases = props.get("Aliases")
    return list(dict.fromkeys(a for a in aliases if isinstance(a, str))) if isinstance(aliases, list) else []


class _Image:
    """SageMaker calls on one image within one invocation, sharing one ResourceInUse retry budget."""

    def __init__(self, name: str, context: Any) -> None:
        self.name = name
        left = context.get_remaining_time_in_millis() / 1000.0 - SAFETY_MARGIN_SECONDS
        self.deadline = clock() + min(MAX_RETRY_SECONDS, left)

    def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        attempt = 0
        while True:
            attempt += 1
            try:
                return dict(getattr(sagemaker(), operation)(ImageName=self.name, **params))
            except ClientError as error:
                if _code(error) != "ResourceInUse":
                    raise
                delay = min(MAX_DELAY_SECONDS, 2.0 ** (attempt - 1)) * random.uniform(0.5, 1.0)
                if attempt >= MAX_ATTEMPTS or clock() + delay > self.deadline:
                    raise RuntimeError(
                        f"Image {self.name!r} still busy after {attempt} attempts: {error}"
                    ) from error
                logger.info("%s: ResourceInUse, retry %d in %.1f s", operation, attempt, delay)
                sleep(delay)

    def aliases(self, version: int) -> set[str]:
        """All aliases the version holds (ListAliases, following NextToken)."""
        held: set[str] = set()
        params: dict[str, Any] = {"Version": version, "MaxResults": 100}
        while True:
            page = self._call("list_aliases", **params)
            held.update(page.get("SageMakerImageVersionAliases", []))
            if not page.get("NextToken"):
                return held
            params["NextToken"] = page["NextToken"]

    def holder(self, alias: str) -> int | None:
        """The version that holds the alias, or None."""
        try:
            return int(self._call("describe_image_version", Alias=alias)["Version"])
        except ClientError as error:
            if _code(error) == "ResourceNotFound":
                return None
            raise

    def update(self, version: int, add: Sequence[str] = (), delete: Sequence[str] = ()) -> None:
        logger.info("Image %s version %d: add %s, delete %s", self.name, version, list(add), list(delete))
        changes = {"AliasesToAdd": list(add), "AliasesToDelete": list(delete)}
        self._call("update_image_version", Version=version, **{k: v for k, v in changes.items() if v})


def _claim(image: _Image, version: int, aliases: list[str], dropped: list[str]) -> None:
    """Put every alias on the version (moving it from its holder) and remove dropped ones it holds."""
    try:
        held = image.aliases(version)
    except ClientError as error:
        if _code(error) != "ResourceNotFound":
            raise
        raise ValueError(
            f"SageMaker image {image.name!r} has no version {version} (or the image does not exist): {error}"
        ) from error
    holders = {alias: image.holder(alias) for alias in aliases if alias not in held}
    add = [alias for alias, holder in holders.items() if holder != version]  # != : listed since
    moves: dict[int, list[str]] = {}
    for alias in add:
        if (holder := holders[alias]) is not None:
            moves.setdefault(holder, []).append(alias)
    for holder, moved in moves.items():
        image.update(holder, delete=moved)
    delete = [a for a in dropped if a in held and a not in aliases]
    if add or delete:
        image.update(version, add=add, delete=delete)


@helper.create
def create(event: dict[str, Any], context: Any) -> str:
    image, version, aliases = _parse(event["ResourceProperties"])
    _claim(_Image(image, context), version, aliases, dropped=[])
    return physical_id(image, version)


@helper.update
def update(event: dict[str, Any], context: Any) -> str:
    """Same version: add, move, drop. Other image or version: claim there only (Delete tidies the old)."""
    image, version, aliases = _parse(event["ResourceProperties"])
    new_id = physical_id(image, version)
    same = new_id == event.get("PhysicalResourceId")
    dropped = _listed(event.get("OldResourceProperties", {})) if same else []
    _claim(_Image(image, context), version, aliases, dropped)
    return new_id


@helper.delete
def delete(event: dict[str, Any], context: Any) -> None:
    """Remove only the listed aliases the version still holds; one moved away since is not ours."""
    match = PHYSICAL_ID.fullmatch(str(event.get("PhysicalResourceId", "")))
    if not match:
        logger.info("Physical id is not ours (a failed Create's): nothing to delete")
        return
    image, version = _Image(match["image"], context), int(match["version"])
    try:
        held = image.aliases(version)
        mine = [a for a in _listed(event.get("ResourceProperties", {})) if a in held]
        if mine:
            image.update(version, delete=mine)
    except ClientError as error:
        if _code(error) != "ResourceNotFound":
            raise
        logger.info("Image %s version %d is gone: nothing to delete", image.name, version)
