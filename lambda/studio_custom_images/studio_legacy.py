"""Deletes of 0.2.0's per-attachment ``Custom::SageMakerStudioCustomImage`` resources (same function).

A stack that upgrades from 0.2.0 replaces them with one resource per target: CloudFormation creates
the new ones (which write their ledger records) and then, in its clean-up, deletes every old one. Such
a Delete detaches its one entry only when no record on the target declares the entry's key (an
attachment the upgrade removed) and the listed entry is still that one; an attachment the new resource
declares stays as it is.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import studio_ledger
from custom_resource import Deadline, show
from studio_entries import APP_TYPES, DOMAIN_RULE, IMAGE_PATTERN, NAME_PATTERN, Entry, Target, version
from studio_write import ReadModifyWrite

logger = logging.getLogger(__name__)

RESOURCE_TYPE = "Custom::SageMakerStudioCustomImage"
# 0.2.0's physical id: <domain>/<where>/<AppType>/<ImageName>, where is DefaultUserSettings,
# DefaultSpaceSettings, user-profile/<name> or space/<name>
PHYSICAL_ID = re.compile(
    rf"(?P<domain>{DOMAIN_RULE})/"
    rf"(?:(?P<settings>DefaultUserSettings|DefaultSpaceSettings)|user-profile/(?P<profile>{NAME_PATTERN})"
    rf"|space/(?P<space>{NAME_PATTERN}))/(?P<app>{'|'.join(APP_TYPES)})/(?P<image>{IMAGE_PATTERN})",
    re.ASCII,
)


def _entry(props: dict[str, Any], settings: str, app_type: str, image: str) -> Entry | None:
    """The entry 0.2.0 wrote: target, app type and image from the id, config and version from the
    properties (as 0.2.0 read them back); None if those no longer parse."""
    config = props.get("AppImageConfigName")
    try:
        pinned = version(props.get("ImageVersionNumber"))
    except ValueError:
        return None
    return Entry(settings, app_type, image, config, pinned) if isinstance(config, str) and config else None


def delete(event: dict[str, Any], deadline: Deadline) -> bool:
    """Handle a Delete whose physical id is 0.2.0's; False if the id is not of that form."""
    match = PHYSICAL_ID.fullmatch(str(event.get("PhysicalResourceId", "")))
    if not match:
        return False
    what = f"legacy 0.2.0 per-attachment resource {match.group(0)}"
    target = Target(match["domain"], match["profile"], match["space"])
    settings = match["settings"] or ("UserSettings" if match["profile"] else "SpaceSettings")
    entry = _entry(event.get("ResourceProperties") or {}, settings, match["app"], match["image"])
    if entry is None:
        logger.info("%s: its properties name no entry: nothing to detach", what)
        return True
    for record in studio_ledger.read(target).values():
        if record.declares(entry.key):
            logger.info("%s: kept: declared by %s", what, record.owner.label)
            return True
    work = ReadModifyWrite(target, deadline, removes=(entry,), deleting=True)
    work.apply()
    if work.writes:
        logger.info("%s: detached (%s)", what, show(entry.as_dict()))
    else:
        logger.info("%s: not listed as it wrote it (changed since, or gone): nothing to detach", what)
    return True
