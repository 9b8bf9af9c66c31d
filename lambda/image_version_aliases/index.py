"""Custom::SageMakerImageVersionAliases: keep floating aliases (e.g. ``latest``) on one image version.

SageMaker lets an alias name at most one version of an image, and CloudFormation creates version N+1
before it touches version N, so an alias must be *moved*: deleted from its holder, then added here.
Built on crhelper, which answers CloudFormation itself; no polling, everything waits in-invocation.
The crhelper set-up, the client and the ResourceInUse retry are in the shared ``custom_resource``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from botocore.exceptions import ClientError  # type: ignore[import-untyped]
from custom_resource import (
    Deadline,
    cfn_resource,
    error_code,
    make_physical_id,
    parse_physical_id,
    retry_in_use,
    sagemaker,
    show,
)

logger = logging.getLogger(__name__)

# Exactly the SageMaker actions this code calls; the function's IAM policy must grant these and no more.
SAGEMAKER_ACTIONS = (
    "sagemaker:UpdateImageVersion",
    "sagemaker:DescribeImageVersion",
    "sagemaker:ListAliases",
)

helper = cfn_resource()

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
    return make_physical_id(image, str(version), "aliases")


def _parse(props: dict[str, Any]) -> tuple[str, int, list[str]]:
    """Validate ResourceProperties up front, so bad input fails at once with a reason naming it."""
    image = props.get("ImageName")
    if not image:
        raise ValueError("ImageName is required")
    if not isinstance(image, str) or not IMAGE_NAME.fullmatch(image):
        raise ValueError(f"ImageName {show(image)} is not a valid SageMaker image name")
    raw = props.get("Version")
    if isinstance(raw, bool) or not VERSION.fullmatch(str(raw)) or int(str(raw)) < 1:
        raise ValueError(f"Version must be a positive integer, got {show(raw)}")
    aliases = props.get("Aliases")
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise ValueError(f"Aliases must be a list of strings, got {show(aliases)}")
    for alias in aliases:
        if not 1 <= len(alias) <= 128 or not ALIAS.fullmatch(alias):
            raise ValueError(
                f"Alias {show(alias)} is invalid: SageMaker wants 1-128 letters, digits, '-', '_', '.',"
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
        self.deadline = Deadline(context)

    def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        call = getattr(sagemaker(), operation)
        what = f"Image {self.name!r}"
        return dict(retry_in_use(call, deadline=self.deadline, what=what, ImageName=self.name, **params))

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
            if error_code(error) == "ResourceNotFound":
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
        if error_code(error) != "ResourceNotFound":
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
    match = parse_physical_id(event, PHYSICAL_ID)
    if not match:
        return
    image, version = _Image(match["image"], context), int(match["version"])
    try:
        held = image.aliases(version)
        mine = [a for a in _listed(event.get("ResourceProperties", {})) if a in held]
        if mine:
            image.update(version, delete=mine)
    except ClientError as error:
        if error_code(error) != "ResourceNotFound":
            raise
        logger.info("Image %s version %d is gone: nothing to delete", image.name, version)
