"""Custom::SageMakerStudioCustomImages: list custom images in one existing Studio target's settings.

One resource per target (a domain, a user profile or a space) holds every entry that a stack lists
there; ``docs/studio-custom-resource.md`` is the contract. Each invocation is one read-modify-write of
that target: a single Update* call however many entries change (a domain's two settings objects go in
the same UpdateDomain), carrying only the ``<AppType>AppSettings`` objects whose ``CustomImages``
change, each as read but for that list. Resending whole settings would resend the execution role
(needing iam:PassRole) and overwrite whatever changed meanwhile. The crhelper set-up, the client and the
ResourceInUse retry are shared (``custom_resource``).
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterable
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
WRITABLE = ("InService", "Update_Failed")  # the service takes an update from Update_Failed (its docs)
MAX_WRITES = 3  # a concurrent writer may undo ours; after this many writes we give up, naming the target
MAX_ENTRIES = 200  # SageMaker's cap per CustomImages list
MAX_REASON = 256  # crhelper keeps only the last 240 characters of a longer reason
HINT = " Fix: image.grant_read(<the target's execution role>)"

APP_TYPES = ("KernelGateway", "JupyterLab", "CodeEditor")
# Where SageMaker has CustomImages (botocore's model): a space's JupyterLab and CodeEditor have none.
APP_TYPES_IN = {
    "DefaultUserSettings": APP_TYPES,
    "DefaultSpaceSettings": ("KernelGateway", "JupyterLab"),
    "UserSettings": APP_TYPES,
    "SpaceSettings": ("KernelGateway",),
}
PROPERTIES = {"DomainId", "UserProfileName", "SpaceName", "CustomImages"}
FIELDS = {"Settings", "AppType", "ImageName", "AppImageConfigName", "ImageVersionNumber"}
CLOUDFORMATION_PROPERTIES = {"ServiceToken", "ServiceTimeout"}  # CloudFormation's own, passed along

# SageMaker's rules (botocore's model; Java regexes that must match the whole value, ASCII only).
_DOMAIN = r"d-(?:-*[a-z0-9]){1,61}"
_NAME = r"[a-zA-Z0-9](?:-*[a-zA-Z0-9]){0,62}"  # AppImageConfigName, UserProfileName, SpaceName
_IMAGE = r"[a-zA-Z0-9](?:[-.]?[a-zA-Z0-9]){0,62}"
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
    rf"(?P<domain>{_DOMAIN})/(?:domain|user-profile/(?P<profile>{_NAME})|space/(?P<space>{_NAME}))",
    re.ASCII,
)


def handler(event: dict[str, Any], context: Any) -> None:
    """Lambda entry point: crhelper dispatches, and answers SUCCESS, or FAILED with str(error)."""
    helper(event, context)


class Target(NamedTuple):
    """A domain, a user profile or a space: what one resource writes to, and its physical id.

    (NamedTuple, not a dataclass: a dataclass needs its module in sys.modules, and tests and the
    construct's contract test load this file by path.)
    """

    domain_id: str
    profile: str | None = None
    space: str | None = None

    @property
    def settings(self) -> tuple[str, ...]:
        """The settings objects an entry of this target may name."""
        if self.profile:
            return ("UserSettings",)
        if self.space:
            return ("SpaceSettings",)
        return ("DefaultUserSettings", "DefaultSpaceSettings")

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

    @property
    def physical_id(self) -> str:
        """The target alone: a change of target is a replacement, a change of entries is not."""
        if self.profile:
            return make_physical_id(self.domain_id, "user-profile", self.profile)
        if self.space:
            return make_physical_id(self.domain_id, "space", self.space)
        return make_physical_id(self.domain_id, "domain")

    def _operation(self, verb: str) -> Any:
        noun = "user_profile" if self.profile else "space" if self.space else "domain"
        return getattr(sagemaker(), f"{verb}_{noun}")

    def describe(self) -> dict[str, Any]:
        return dict(self._operation("describe")(**self.ids))

    def write(self, changed: dict[str, dict[str, Any]]) -> None:
        """The changed AppSettings objects inside their settings objects, and the ids: nothing else."""
        self._operation("update")(**self.ids, **changed)


class Entry(NamedTuple):
    """One wanted CustomImages entry; its key is (settings, app_type, image)."""

    settings: str  # DefaultUserSettings | DefaultSpaceSettings | UserSettings | SpaceSettings
    app_type: str
    image: str
    config: str
    version: int | None  # None: the image's latest version ("unpinned")

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.settings, self.app_type, self.image)

    @property
    def group(self) -> tuple[str, str]:
        return (self.settings, self.app_type)

    def as_dict(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"ImageName": self.image, "AppImageConfigName": self.config}
        if self.version is not None:
            entry["ImageVersionNumber"] = self.version
        return entry

    def owns(self, listed: dict[str, Any]) -> bool:
        """Whether a listed entry is (still) this one. Unpinned, any number the service shows is ours:
        whether it shows the latest version's number is not documented, so neither answer may matter."""
        return (
            listed.get("ImageName") == self.image
            and listed.get("AppImageConfigName") == self.config
            and (self.version is None or listed.get("ImageVersionNumber") == self.version)
        )


# --- Input --------------------------------------------------------------------------------------------


def _refuse_unknown(given: Iterable[str], known: set[str], what: str, where: str = "") -> None:
    """Refused rather than ignored: the construct and this function must agree on every name."""
    unknown = sorted(set(given) - known - (set() if where else CLOUDFORMATION_PROPERTIES))
    if unknown:
        raise ValueError(f"Unknown {what} {show(unknown)}{where}: expected {', '.join(sorted(known))}")


def _name(props: dict[str, Any], key: str, where: str = "") -> str | None:
    value = props.get(key)
    if value is None:
        return None
    pattern, rule = RULES[key]
    if not isinstance(value, str) or len(value) > 63 or not pattern.fullmatch(value):
        raise ValueError(f"{where}{key} {show(value)} is invalid: SageMaker wants {rule}")
    return value


def _required(props: dict[str, Any], key: str, where: str = "") -> str:
    value = _name(props, key, where)
    if value is None:
        raise ValueError(f"{where}{key} is required")
    return value


def _version(value: Any, where: str) -> int | None:
    """A positive integer, or that integer as a string (CloudFormation sends every scalar as a string)."""
    if value is None:
        return None
    text = str(value) if isinstance(value, int | str) and not isinstance(value, bool) else ""
    if not VERSION.fullmatch(text) or not 1 <= int(text) <= MAX_VERSION:
        raise ValueError(f"{where}ImageVersionNumber must be a positive integer, got {show(value)}")
    return int(text)


def _entry(target: Target, number: int, listed: Any) -> Entry:
    where = f"CustomImages[{number}]."
    if not isinstance(listed, dict):
        raise ValueError(f"CustomImages[{number}] must be an object, got {show(listed)}")
    _refuse_unknown(listed, FIELDS, "fields", f" in CustomImages[{number}]")
    settings = listed.get("Settings")
    if settings not in target.settings:
        raise ValueError(
            f"{where}Settings {show(settings)} is invalid for this target: use {', '.join(target.settings)}"
        )
    app_type = listed.get("AppType")
    if app_type not in APP_TYPES_IN[settings]:
        raise ValueError(
            f"{where}AppType {show(app_type)} has no CustomImages in {settings}: "
            f"use {', '.join(APP_TYPES_IN[settings])}"
        )
    return Entry(
        settings,
        app_type,
        _required(listed, "ImageName", where),
        _required(listed, "AppImageConfigName", where),
        _version(listed.get("ImageVersionNumber"), where),
    )


def _parse(props: dict[str, Any]) -> tuple[Target, tuple[Entry, ...]]:
    """Validate ResourceProperties up front, so bad input fails at once with a reason naming it.

    The construct's contract test calls this on what the construct renders, as CloudFormation sends it.
    """
    _refuse_unknown(props, PROPERTIES, "properties")
    domain = _required(props, "DomainId")
    profile = _name(props, "UserProfileName")
    space = _name(props, "SpaceName")
    if profile and space:
        raise ValueError(f"UserProfileName {show(profile)} and SpaceName {show(space)}: give at most one")
    target = Target(domain, profile, space)
    listed = props.get("CustomImages")
    if not isinstance(listed, list) or not listed:
        raise ValueError(f"CustomImages must be a list of 1 or more entries, got {show(listed)}")
    entries = tuple(_entry(target, number, item) for number, item in enumerate(listed))
    seen: set[tuple[str, str, str]] = set()
    for number, entry in enumerate(entries):
        if entry.key in seen:
            raise ValueError(
                f"CustomImages[{number}] repeats the key (Settings, AppType, ImageName) {entry.key}"
            )
        seen.add(entry.key)
    for (settings, app_type), count in Counter(entry.group for entry in entries).items():
        if count > MAX_ENTRIES:
            raise ValueError(
                f"CustomImages has {count} entries for {settings} {app_type}: SageMaker takes {MAX_ENTRIES}"
            )
    return target, entries


# --- The read-modify-write ----------------------------------------------------------------------------


def _fit(head: str, detail: str) -> str:
    """head + detail, with the fix at the very end when it is a missing read permission on the image.

    crhelper keeps only the last 240 characters of a reason over 256, so we cut the middle ourselves.
    """
    tail = HINT if "DescribeImageVersion" in detail else ""
    room = MAX_REASON - len(head) - len(tail)
    if len(detail) > room:
        detail = detail[: max(room - 3, 0)] + "..."
    return head + detail + tail


def _not_in_service(target: Target, described: dict[str, Any], when: str) -> RuntimeError:
    status = described.get("Status")
    reason = str(described.get("FailureReason") or "no FailureReason given")
    return RuntimeError(_fit(f"{target.label} is {show(status)} {when}: ", reason))


def _replace(images: list[dict[str, Any]], entry: Entry) -> list[dict[str, Any]]:
    """Our entry in place of the first listed one of its image (others of that image dropped), or last."""
    names = [listed.get("ImageName") for listed in images]
    if entry.image not in names:
        return [*images, entry.as_dict()]
    at = names.index(entry.image)
    rest = [listed for listed in images[at + 1 :] if listed.get("ImageName") != entry.image]
    return [*images[:at], entry.as_dict(), *rest]


class ReadModifyWrite:
    """Put ``puts`` and remove ``removes`` (while still ours) on one target, in one Update* per write.

    A plain class (its state spans ResourceInUse reruns): the writes made, the entries written (to take
    back if the invocation fails), and ``pinned``: old pinned entries an unpinned one replaces, which
    must be rewritten even though the listed entry also looks like the unpinned one.
    """

    def __init__(
        self,
        target: Target,
        deadline: Deadline,
        *,
        puts: tuple[Entry, ...] = (),
        removes: tuple[Entry, ...] = (),
        pinned: dict[tuple[str, str, str], Entry] | None = None,
        deleting: bool = False,
    ) -> None:
        self.target = target
        self.deadline = deadline
        self.puts = puts
        self.removes = removes
        self.pinned = dict(pinned or {})
        self.deleting = deleting
        self.writes = 0
        self.written: list[Entry] = []

    def apply(self) -> None:
        """Rerun the whole cycle on ResourceInUse: resending an older read would undo a concurrent change."""
        try:
            retry_in_use(self._cycle, deadline=self.deadline, what=self.target.label)
        except ClientError as error:
            if error_code(error) != "ResourceNotFound":
                raise RuntimeError(_fit(f"{self.target.label}: ", str(error))) from error
            if not self.deleting:
                raise ValueError(_fit(f"{self.target.label} was not found: ", str(error))) from error
            logger.info("%s is gone: nothing to detach", self.target.label)

    def _settled(self) -> dict[str, Any]:
        """Describe the target, polling while it is Pending or Updating, within the deadline."""
        polls = 0
        while True:
            described = self.target.describe()
            status = described.get("Status")
            if status not in WAITING:
                return described
            polls += 1
            if not self.deadline.wait(min(MAX_POLL_SECONDS, 2.0**polls)):
                raise RuntimeError(
                    f"{self.target.label} is still {status} after {self.deadline.elapsed():.0f} s:"
                    " gave up waiting for InService"
                )
            logger.info("%s is %s: poll %d", self.target.label, status, polls)

    def _changed(self, described: dict[str, Any]) -> tuple[dict[str, dict[str, Any]], list[Entry]]:
        """The Update* settings holding only the AppSettings objects that change, and the puts in them.

        Each AppSettings object is as read but for CustomImages. An empty result: nothing to write,
        which is also the verification that a write took (a put missing or a removed one back changes).
        """
        changed: dict[str, dict[str, Any]] = {}
        applied: list[Entry] = []
        for group in dict.fromkeys(entry.group for entry in (*self.removes, *self.puts)):
            settings, app_type = group
            app_settings = dict((described.get(settings) or {}).get(f"{app_type}AppSettings") or {})
            images = list(app_settings.get("CustomImages") or [])
            wanted = images
            for gone in (entry for entry in self.removes if entry.group == group):
                wanted = [listed for listed in wanted if not gone.owns(listed)]
            for entry in (entry for entry in self.puts if entry.group == group):
                old = self.pinned.get(entry.key)
                if any(entry.owns(listed) for listed in wanted) and not (
                    old and any(old.owns(listed) for listed in wanted)
                ):
                    continue  # listed as wanted: not rewritten
                wanted = _replace(wanted, entry)
                applied.append(entry)
            if wanted != images:
                changed.setdefault(settings, {})[f"{app_type}AppSettings"] = {
                    **app_settings,
                    "CustomImages": wanted,
                }
        return changed, applied

    def _cycle(self) -> None:
        """Describe (waiting), then write and verify with the description the wait returns."""
        described = self._settled()
        while True:
            status = described.get("Status")
            if self.deleting and status == "Deleting":
                logger.info("%s is being deleted: nothing to detach", self.target.label)
                return
            changed, applied = self._changed(described)
            if not changed and (self.deleting or status in WRITABLE):
                return  # nothing to do, or nothing left to do: the last write took
            if status not in WRITABLE:
                raise _not_in_service(self.target, described, "before the update")
            if self.writes >= MAX_WRITES:
                raise RuntimeError(
                    f"{self.target.label}: CustomImages changed again after each of {MAX_WRITES} writes"
                    " (a concurrent writer?): gave up"
                )
            logger.info("%s: write %d: %s", self.target.label, self.writes + 1, changed)
            self.target.write(changed)
            self.writes += 1
            self.written.extend(entry for entry in applied if entry not in self.written)
            self.pinned = {}  # rewritten once; the service may show our unpinned entry with a number
            described = self._settled()
            if described.get("Status") != "InService":
                raise _not_in_service(self.target, described, "after the update")


def _put(
    target: Target,
    puts: tuple[Entry, ...],
    context: Any,
    removes: tuple[Entry, ...] = (),
    pinned: dict[tuple[str, str, str], Entry] | None = None,
) -> str:
    """Create and Update: on failure, first take back what this invocation wrote, then answer FAILED."""
    deadline = Deadline(context, MAX_SECONDS)
    work = ReadModifyWrite(target, deadline, puts=puts, removes=removes, pinned=pinned)
    try:
        work.apply()
    except Exception:
        if work.written:
            logger.info("%s: the invocation failed: removing the entries it wrote", target.label)
            try:
                ReadModifyWrite(target, deadline, removes=tuple(work.written), deleting=True).apply()
            except Exception:
                logger.exception("%s: could not remove the entries written", target.label)
        raise
    return target.physical_id


@helper.create
def create(event: dict[str, Any], context: Any) -> str:
    """The id is set before any work, so a failed Create answers it and its rollback Delete detaches."""
    target, entries = _parse(event["ResourceProperties"])
    helper.PhysicalResourceId = target.physical_id
    return _put(target, entries, context)


def _old(event: dict[str, Any], target: Target) -> tuple[Entry, ...]:
    """The entries the old properties listed on this same target; none if replaced or unparsable.

    A failed Update's rollback has the failed (maybe invalid) properties as its old ones.
    """
    if event.get("PhysicalResourceId") != target.physical_id:
        return ()  # a replacement: CloudFormation's clean-up Delete detaches the old target's entries
    try:
        old_target, old = _parse(event.get("OldResourceProperties") or {})
    except ValueError as error:
        logger.info("Old properties do not parse (%s): nothing of theirs to remove", error)
        return ()
    return old if old_target == target else ()


@helper.update
def update(event: dict[str, Any], context: Any) -> str:
    """Apply the difference: gone keys removed (while ours), new or changed entries put, the rest kept."""
    target, entries = _parse(event["ResourceProperties"])
    old = _old(event, target)
    new = {entry.key: entry for entry in entries}
    removes = tuple(entry for entry in old if entry.key not in new)
    pinned = {
        entry.key: entry
        for entry in old
        if entry.key in new and entry.version is not None and new[entry.key].version is None
    }
    return _put(target, entries, context, removes, pinned)


@helper.delete
def delete(event: dict[str, Any], context: Any) -> None:
    """Remove this resource's entries while still ours; a target gone (or Deleting) is success."""
    if not parse_physical_id(event, PHYSICAL_ID):
        return
    try:
        target, entries = _parse(event.get("ResourceProperties") or {})
    except ValueError as error:
        logger.info("Properties do not parse (%s): no entry known to be ours", error)
        return
    if target.physical_id != event["PhysicalResourceId"]:
        logger.info("Properties name another target than the id: no entry known to be ours there")
        return
    ReadModifyWrite(target, Deadline(context, MAX_SECONDS), removes=entries, deleting=True).apply()
