"""What a Studio custom-images resource names: its target, its entries, and the parsing of both.

``Target`` is a domain, a user profile or a space, and also the physical id of the resource that writes
to it; ``Entry`` is one wanted ``CustomImages`` entry. ``parse`` validates ResourceProperties (the
contract is ``docs/studio-custom-resource.md``), ``target_of`` reads a physical id back.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from typing import Any, NamedTuple

from custom_resource import make_physical_id, sagemaker, show

APP_TYPES = ("KernelGateway", "JupyterLab", "CodeEditor")
# Where SageMaker has CustomImages (botocore's model): a space's JupyterLab and CodeEditor have none.
APP_TYPES_IN = {
    "DefaultUserSettings": APP_TYPES,
    "DefaultSpaceSettings": ("KernelGateway", "JupyterLab"),
    "UserSettings": APP_TYPES,
    "SpaceSettings": ("KernelGateway",),
}
LEDGER_VERSION = "1"  # the construct renders it; absent (0.3.0's properties) means the same
PROPERTIES = {"DomainId", "UserProfileName", "SpaceName", "CustomImages", "LedgerVersion"}
FIELDS = {"Settings", "AppType", "ImageName", "AppImageConfigName", "ImageVersionNumber"}
CLOUDFORMATION_PROPERTIES = {"ServiceToken", "ServiceTimeout"}  # CloudFormation's own, passed along
MAX_ENTRIES = 200  # SageMaker's cap per CustomImages list

# SageMaker's rules (botocore's model; Java regexes that must match the whole value, ASCII only).
DOMAIN_RULE = r"d-(?:-*[a-z0-9]){1,61}"
NAME_PATTERN = r"[a-zA-Z0-9](?:-*[a-zA-Z0-9]){0,62}"  # AppImageConfigName, UserProfileName, SpaceName
IMAGE_PATTERN = r"[a-zA-Z0-9](?:[-.]?[a-zA-Z0-9]){0,62}"
NAME_RULE = "1-63 letters, digits and '-', starting and ending with a letter or digit"
RULES = {
    "DomainId": (
        re.compile(DOMAIN_RULE, re.ASCII),
        "'d-' and then lowercase letters, digits and '-', 63 at most",
    ),
    "UserProfileName": (re.compile(NAME_PATTERN, re.ASCII), NAME_RULE),
    "SpaceName": (re.compile(NAME_PATTERN, re.ASCII), NAME_RULE),
    "AppImageConfigName": (re.compile(NAME_PATTERN, re.ASCII), NAME_RULE),
    "ImageName": (
        re.compile(IMAGE_PATTERN, re.ASCII),
        "1-63 letters and digits, single '-' or '.' between them",
    ),
}
VERSION = re.compile(r"[0-9]{1,10}", re.ASCII)
MAX_VERSION = 2**31 - 1  # the API's integer
PHYSICAL_ID = re.compile(
    rf"(?P<domain>{DOMAIN_RULE})/(?:domain|user-profile/(?P<profile>{NAME_PATTERN})"
    rf"|space/(?P<space>{NAME_PATTERN}))",
    re.ASCII,
)


class Target(NamedTuple):
    """A domain, a user profile or a space: what one resource writes to, and its physical id.

    (NamedTuple, not a dataclass: a dataclass needs its module in sys.modules, and tests and the
    construct's contract test load the handler by path.)
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


def target_of(physical_id: str) -> Target | None:
    """The target a physical id of this function's form names; None for any other string."""
    match = PHYSICAL_ID.fullmatch(physical_id)
    return Target(match["domain"], match["profile"], match["space"]) if match else None


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
        """As SageMaker lists it."""
        entry: dict[str, Any] = {"ImageName": self.image, "AppImageConfigName": self.config}
        if self.version is not None:
            entry["ImageVersionNumber"] = self.version
        return entry

    def as_record(self) -> dict[str, Any]:
        """As the ledger keeps it (the version an integer, only when pinned)."""
        return {"Settings": self.settings, "AppType": self.app_type, **self.as_dict()}

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


def name(props: dict[str, Any], key: str, where: str = "") -> str | None:
    """An optional name, checked by SageMaker's rule for it."""
    value = props.get(key)
    if value is None:
        return None
    pattern, rule = RULES[key]
    if not isinstance(value, str) or len(value) > 63 or not pattern.fullmatch(value):
        raise ValueError(f"{where}{key} {show(value)} is invalid: SageMaker wants {rule}")
    return value


def required(props: dict[str, Any], key: str, where: str = "") -> str:
    value = name(props, key, where)
    if value is None:
        raise ValueError(f"{where}{key} is required")
    return value


def version(value: Any, where: str = "") -> int | None:
    """A positive integer, or that integer as a string (CloudFormation sends every scalar as a string)."""
    if value is None:
        return None
    text = str(value) if isinstance(value, int | str) and not isinstance(value, bool) else ""
    if not VERSION.fullmatch(text) or not 1 <= int(text) <= MAX_VERSION:
        raise ValueError(f"{where}ImageVersionNumber must be a positive integer, got {show(value)}")
    return int(text)


def entry_of(target: Target, listed: Any, where: str) -> Entry:
    """One entry (of the properties, or of a ledger record), checked for this target."""
    if not isinstance(listed, dict):
        raise ValueError(f"{where} must be an object, got {show(listed)}")
    _refuse_unknown(listed, FIELDS, "fields", f" in {where}")
    where += "."
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
        required(listed, "ImageName", where),
        required(listed, "AppImageConfigName", where),
        version(listed.get("ImageVersionNumber"), where),
    )


def parse(props: dict[str, Any]) -> tuple[Target, tuple[Entry, ...]]:
    """Validate ResourceProperties up front, so bad input fails at once with a reason naming it.

    The construct's contract test calls this (as the handler's ``_parse``) on what the construct
    renders, as CloudFormation sends it.
    """
    _refuse_unknown(props, PROPERTIES, "properties")
    ledger_version = props.get("LedgerVersion", LEDGER_VERSION)
    if ledger_version != LEDGER_VERSION:
        raise ValueError(
            f"LedgerVersion {show(ledger_version)} is not one this function knows: it keeps"
            f" version {LEDGER_VERSION!r} (deploy the construct and the function of one release)"
        )
    domain = required(props, "DomainId")
    profile = name(props, "UserProfileName")
    space = name(props, "SpaceName")
    if profile and space:
        raise ValueError(f"UserProfileName {show(profile)} and SpaceName {show(space)}: give at most one")
    target = Target(domain, profile, space)
    listed = props.get("CustomImages")
    if not isinstance(listed, list) or not listed:
        raise ValueError(f"CustomImages must be a list of 1 or more entries, got {show(listed)}")
    entries = tuple(entry_of(target, item, f"CustomImages[{number}]") for number, item in enumerate(listed))
    check_keys(entries, "CustomImages")
    return target, entries


def check_keys(entries: tuple[Entry, ...], what: str) -> None:
    """No key twice, and at most SageMaker's cap per (Settings, AppType)."""
    seen: set[tuple[str, str, str]] = set()
    for number, entry in enumerate(entries):
        if entry.key in seen:
            raise ValueError(f"{what}[{number}] repeats the key (Settings, AppType, ImageName) {entry.key}")
        seen.add(entry.key)
    for (settings, app_type), count in Counter(entry.group for entry in entries).items():
        if count > MAX_ENTRIES:
            raise ValueError(
                f"{what} has {count} entries for {settings} {app_type}: SageMaker takes {MAX_ENTRIES}"
            )
