"""Custom::SageMakerStudioCustomImage: list one custom image in an existing Studio target's settings.

The target is a domain (its DefaultUserSettings or DefaultSpaceSettings), a user profile or a space. The
entry ``{ImageName, AppImageConfigName, ImageVersionNumber?}`` goes into ``<AppType>AppSettings.
CustomImages`` by read-modify-write, and the write carries that one AppSettings object and nothing else:
resending the whole settings would resend the execution role (needing iam:PassRole) and overwrite
whatever changed meanwhile. The crhelper set-up, the client and the ResourceInUse retry are shared
(``custom_resource``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any, NamedTuple

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
    "sagemaker:DescribeDomain",
    "sagemaker:UpdateDomain",
    "sagemaker:DescribeUserProfile",
    "sagemaker:UpdateUserProfile",
    "sagemaker:DescribeSpace",
    "sagemaker:UpdateSpace",
)

helper = cfn_resource()

# The waits and ResourceInUse retries of one invocation share this budget (and stop 30 s before the
# Lambda deadline). Status polls sleep 2, 4, 8, then 15 s.
MAX_SECONDS = 600.0
MAX_POLL_SECONDS = 15.0
WAITING = ("Pending", "Updating")

APP_TYPES = ("KernelGateway", "JupyterLab", "CodeEditor")
# Where SageMaker has CustomImages (botocore's model): a space's JupyterLab and CodeEditor have none.
APP_TYPES_IN = {
    "DefaultUserSettings": APP_TYPES,
    "DefaultSpaceSettings": ("KernelGateway", "JupyterLab"),
    "UserSettings": APP_TYPES,
    "SpaceSettings": ("KernelGateway",),
}
PROPERTIES = {
    "DomainId",
    "UserProfileName",
    "SpaceName",
    "Settings",
    "AppType",
    "ImageName",
    "AppImageConfigName",
    "ImageVersionNumber",
}
CLOUDFORMATION_PROPERTIES = {"ServiceToken", "ServiceTimeout"}  # CloudFormation's own, passed along

# SageMaker's rules (botocore's model; Java regexes that must match the whole value, ASCII only).
_DOMAIN = r"d-(?:-*[a-z0-9]){1,61}"
_NAME = r"[a-zA-Z0-9](?:-*[a-zA-Z0-9]){0,62}"  # AppImageConfigName, UserProfileName, SpaceName
_IMAGE = r"[a-zA-Z0-9](?:[-.]?[a-zA-Z0-9]){0,62}"
_APP = "|".join(APP_TYPES)
NAME_RULE = "1-63 letters, digits and '-', starting and ending with a letter or digit"
RULES = {
    "DomainId": (
        re.compile(_DOMAIN, re.ASCII),
        "'d-' and then lowercase letters, digits and '-', 63 at most",
    ),
    "UserProfileName": (re.compile(_NAME, re.ASCII), NAME_RULE),
    "SpaceName": (re.compile(_NAME, re.ASCII), NAME_RULE),
    "AppImageConfigName": (re.compile(_NAME, re.ASCII), NAME_RULE),
    "ImageName": (re.compile(_IMAGE, re.ASCII), "1-63 letters and digits, single '-' or '.' between them"),
}
VERSION = re.compile(r"[0-9]{1,10}", re.ASCII)
MAX_VERSION = 2**31 - 1  # the API's integer
PHYSICAL_ID = re.compile(
    rf"(?P<domain>{_DOMAIN})/"
    rf"(?:(?P<settings>DefaultUserSettings|DefaultSpaceSettings)|user-profile/(?P<profile>{_NAME})"
    rf"|space/(?P<space>{_NAME}))/(?P<app>{_APP})/(?P<image>{_IMAGE})",
    re.ASCII,
)


def handler(event: dict[str, Any], context: Any) -> None:
    """Lambda entry point: crhelper dispatches, and answers SUCCESS, or FAILED with str(error)."""
    helper(event, context)


class Target(NamedTuple):
    """One place for the entry: a domain's default settings, a user profile or a space, and an app.

    (NamedTuple, not a dataclass: a dataclass needs its module in sys.modules, and tests and the
    construct's contract test load this file by path.)
    """

    domain_id: str
    settings: str  # DefaultUserSettings | DefaultSpaceSettings | UserSettings | SpaceSettings
    app_type: str
    profile: str | None = None
    space: str | None = None

    @property
    def app_settings(self) -> str:
        return f"{self.app_type}AppSettings"

    @property
    def ids(self) -> dict[str, str]:
        ids = {"DomainId": self.domain_id}
        if self.profile:
            ids["UserProfileName"] = self.profile
        if self.space:
            ids["SpaceName"] = self.space
        return ids

    @property
    def label(self) -> str:
        if self.profile:
            return f"User profile {self.profile!r} of domain {self.domain_id!r}"
        if self.space:
            return f"Space {self.space!r} of domain {self.domain_id!r}"
        return f"Domain {self.domain_id!r}"

    def physical_id(self, image: str) -> str:
        """DomainId / target / AppType / ImageName: a change of any of them is a replacement."""
        if self.profile:
            where: tuple[str, ...] = ("user-profile", self.profile)
        elif self.space:
            where = ("space", self.space)
        else:
            where = (self.settings,)
        return make_physical_id(self.domain_id, *where, self.app_type, image)

    def _operation(self, verb: str) -> Any:
        noun = "user_profile" if self.profile else "space" if self.space else "domain"
        return getattr(sagemaker(), f"{verb}_{noun}")

    def describe(self) -> dict[str, Any]:
        return dict(self._operation("describe")(**self.ids))

    def write(self, app_settings: dict[str, Any]) -> None:
        """Send the one AppSettings object, inside the one settings object, and the ids: nothing else."""
        self._operation("update")(**self.ids, **{self.settings: {self.app_settings: app_settings}})


class Entry(NamedTuple):
    image: str
    config: str
    version: int | None

    def as_dict(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"ImageName": self.image, "AppImageConfigName": self.config}
        if self.version is not None:
            entry["ImageVersionNumber"] = self.version
        return entry

    def is_in(self, listed: dict[str, Any]) -> bool:
        """Whether a listed entry is still the one we wrote: same image, config and version."""
        return (
            listed.get("ImageName") == self.image
            and listed.get("AppImageConfigName") == self.config
            and listed.get("ImageVersionNumber") == self.version
        )


def _optional(props: dict[str, Any], key: str) -> str | None:
    value = props.get(key)
    if value is None:
        return None
    pattern, rule = RULES[key]
    if not isinstance(value, str) or len(value) > 63 or not pattern.fullmatch(value):
        raise ValueError(f"{key} {show(value)} is invalid: SageMaker wants {rule}")
    return value


def _required(props: dict[str, Any], key: str) -> str:
    value = _optional(props, key)
    if value is None:
        raise ValueError(f"{key} is required")
    return value


def _version(value: Any) -> int | None:
    """A positive integer, or that integer as a string (CloudFormation sends numbers as strings)."""
    if value is None:
        return None
    text = str(value) if isinstance(value, int | str) and not isinstance(value, bool) else ""
    if not VERSION.fullmatch(text) or not 1 <= int(text) <= MAX_VERSION:
        raise ValueError(f"ImageVersionNumber must be a positive integer, got {show(value)}")
    return int(text)


def _parse(props: dict[str, Any]) -> tuple[Target, Entry]:
    """Validate ResourceProperties up front, so bad input fails at once with a reason naming it."""
    unknown = sorted(set(props) - PROPERTIES - CLOUDFORMATION_PROPERTIES)
    if unknown:
        raise ValueError(f"Unknown properties {show(unknown)}: expected {', '.join(sorted(PROPERTIES))}")
    domain = _required(props, "DomainId")
    profile = _optional(props, "UserProfileName")
    space = _optional(props, "SpaceName")
    settings = props.get("Settings")
    app_type = props.get("AppType")
    image = _required(props, "ImageName")
    config = _required(props, "AppImageConfigName")
    version = _version(props.get("ImageVersionNumber"))
    if settings is not None and settings not in ("DefaultUserSettings", "DefaultSpaceSettings"):
        raise ValueError(
            f"Settings {show(settings)} is invalid: use DefaultUserSettings or DefaultSpaceSettings"
        )
    if app_type not in APP_TYPES:
        raise ValueError(f"AppType {show(app_type)} is invalid: use {', '.join(APP_TYPES)}")
    if profile and space:
        raise ValueError(f"UserProfileName {show(profile)} and SpaceName {show(space)}: give at most one")
    if settings is not None and (profile or space):
        other = f"UserProfileName {show(profile)}" if profile else f"SpaceName {show(space)}"
        raise ValueError(f"Settings {show(settings)} is for a domain only, not with {other}")
    where = "UserSettings" if profile else "SpaceSettings" if space else settings or "DefaultUserSettings"
    if app_type not in APP_TYPES_IN[where]:
        target = f"SpaceName {show(space)}" if space else f"Settings {show(where)}"
        raise ValueError(
            f"AppType {show(app_type)} has no CustomImages with {target}: "
            f"only {', '.join(APP_TYPES_IN[where])} there"
        )
    return Target(domain, where, app_type, profile, space), Entry(image, config, version)


def _settled(target: Target, deadline: Deadline) -> dict[str, Any]:
    """Describe the target, polling while it is Pending or Updating, within the deadline."""
    polls = 0
    while True:
        described = target.describe()
        status = described.get("Status")
        if status not in WAITING:
            return described
        polls += 1
        if not deadline.wait(min(MAX_POLL_SECONDS, 2.0**polls)):
            raise RuntimeError(
                f"{target.label} is still {status} after {deadline.elapsed():.0f} s:"
                " gave up waiting for InService"
            )
        logger.info("%s is %s: poll %d", target.label, status, polls)


def _in_service(target: Target, described: dict[str, Any], when: str) -> None:
    status = described.get("Status")
    if status != "InService":
        failure = f": {described['FailureReason']}" if described.get("FailureReason") else ""
        raise RuntimeError(f"{target.label} is {show(status)} {when}, not InService{failure}")


Change = Callable[[list[dict[str, Any]]], list[dict[str, Any]] | None]


def _apply(target: Target, change: Change, deadline: Deadline, *, deleting: bool = False) -> None:
    """Wait, read, change CustomImages, write back the one AppSettings object, wait again.

    On ResourceInUse the whole cycle runs again, reading afresh: resending what was read before a
    concurrent change would undo that change. ``change`` returns None when nothing is to be written.
    """

    def read_modify_write() -> None:
        described = _settled(target, deadline)
        if deleting and described.get("Status") == "Deleting":
            logger.info("%s is being deleted: nothing to detach", target.label)
            return
        app_settings = dict((described.get(target.settings) or {}).get(target.app_settings) or {})
        images = change(list(app_settings.get("CustomImages", [])))
        if images is None and deleting:
            return  # nothing to detach, whatever state the target is in
        _in_service(target, described, "before the update")
        if images is None:
            return
        app_settings["CustomImages"] = images
        logger.info("%s: %s.%s.CustomImages = %s", target.label, target.settings, target.app_settings, images)
        target.write(app_settings)
        _in_service(target, _settled(target, deadline), "after the update")

    try:
        retry_in_use(read_modify_write, deadline=deadline, what=target.label)
    except ClientError as error:
        if error_code(error) != "ResourceNotFound":
            raise RuntimeError(f"{target.label}: {error}") from error
        if not deleting:
            raise ValueError(f"{target.label} was not found: {error}") from error
        logger.info("%s is gone: nothing to detach", target.label)


def _put(target: Target, entry: Entry, context: Any) -> str:
    """Create, and Update (same id or a replacement's new one): our entry, in place of any same-named."""

    def put(images: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
        names = [listed.get("ImageName") for listed in images]
        if entry.image not in names:
            return [*images, entry.as_dict()]
        index = names.index(entry.image)
        others = [listed for listed in images[index + 1 :] if listed.get("ImageName") != entry.image]
        updated = [*images[:index], entry.as_dict(), *others]
        return None if updated == images else updated

    _apply(target, put, Deadline(context, MAX_SECONDS))
    return target.physical_id(entry.image)


@helper.create
def create(event: dict[str, Any], context: Any) -> str:
    return _put(*_parse(event["ResourceProperties"]), context)


@helper.update
def update(event: dict[str, Any], context: Any) -> str:
    """A changed id is a replacement: CloudFormation then deletes the old one, which detaches there."""
    return _put(*_parse(event["ResourceProperties"]), context)


def _ours(props: dict[str, Any], image: str) -> Entry | None:
    """The entry we wrote, from a Delete's properties (accepted once); None if they no longer parse."""
    config = props.get("AppImageConfigName")
    try:
        version = _version(props.get("ImageVersionNumber"))
    except ValueError:
        return None
    return Entry(image, config, version) if isinstance(config, str) else None


@helper.delete
def delete(event: dict[str, Any], context: Any) -> None:
    """Detach our entry while it is still ours; a target already gone is success."""
    match = parse_physical_id(event, PHYSICAL_ID)
    if not match:
        return
    target = Target(
        match["domain"],
        match["settings"] or ("UserSettings" if match["profile"] else "SpaceSettings"),
        match["app"],
        match["profile"],
        match["space"],
    )
    entry = _ours(event.get("ResourceProperties", {}), match["image"])
    if entry is None:
        logger.info("Properties name no entry of ours: nothing to detach")
        return

    def remove(images: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
        kept = [listed for listed in images if not entry.is_in(listed)]
        if len(kept) == len(images):
            logger.info("%s lists no %s entry of ours (changed since, or gone)", target.label, entry.image)
            return None
        return kept

    _apply(target, remove, Deadline(context, MAX_SECONDS), deleting=True)
