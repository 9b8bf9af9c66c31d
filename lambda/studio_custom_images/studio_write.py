"""One read-modify-write of a Studio target's CustomImages: describe (waiting), one Update*, verify.

A single Update* call however many entries change (a domain's two settings objects go in the same
UpdateDomain), carrying only the ``<AppType>AppSettings`` objects whose ``CustomImages`` change, each
as read but for that list. Resending whole settings would resend the execution role (needing
iam:PassRole) and overwrite whatever changed meanwhile.
"""

from __future__ import annotations

import logging
from typing import Any

from botocore.exceptions import ClientError  # type: ignore[import-untyped]
from custom_resource import Deadline, error_code, retry_in_use, show
from studio_entries import Entry, Target

logger = logging.getLogger(__name__)

# Status polls sleep 2, 4, 8, then 15 s, within the invocation's Deadline.
MAX_POLL_SECONDS = 15.0
WAITING = ("Pending", "Updating")
WRITABLE = ("InService", "Update_Failed")  # the service takes an update from Update_Failed (its docs)
MAX_WRITES = 3  # a concurrent writer may undo ours; after this many writes we give up, naming the target
MAX_REASON = 256  # crhelper keeps only the last 240 characters of a longer reason
# The fix, named at the end of a reason whose SageMaker message names the action the role lacks.
HINTS = {
    "DescribeImageVersion": " Fix: image.grant_read(<the target's execution role>)",
    "DescribeAppImageConfig": " Fix: app_image_config.grant_read(<the target's execution role>)",
}
HINT = HINTS["DescribeImageVersion"]


class StillWaiting(RuntimeError):
    """The target stayed Pending or Updating for the whole budget."""


class TargetGone(ValueError):
    """The target does not exist (ResourceNotFound), outside a Delete."""


def fit(head: str, detail: str) -> str:
    """head + detail, with the fix at the very end when it is a missing read permission on the image
    or on the config (the first the detail names).

    crhelper keeps only the last 240 characters of a reason over 256, so we cut the middle ourselves.
    """
    named = sorted((detail.find(action), hint) for action, hint in HINTS.items() if action in detail)
    tail = named[0][1] if named else ""
    room = MAX_REASON - len(head) - len(tail)
    if len(detail) > room:
        detail = detail[: max(room - 3, 0)] + "..."
    return head + detail + tail


def not_in_service(target: Target, described: dict[str, Any], when: str) -> RuntimeError:
    status = described.get("Status")
    reason = str(described.get("FailureReason") or "no FailureReason given")
    return RuntimeError(fit(f"{target.label} is {show(status)} {when}: ", reason))


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
    must be rewritten even though the listed entry also looks like the unpinned one. Subclasses may
    override ``prepare`` (run at the start of every cycle, reruns included).
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
            retry_in_use(self.cycle, deadline=self.deadline, what=self.target.label)
        except ClientError as error:
            if error_code(error) != "ResourceNotFound":
                raise RuntimeError(fit(f"{self.target.label}: ", str(error))) from error
            if not self.deleting:
                raise TargetGone(fit(f"{self.target.label} was not found: ", str(error))) from error
            logger.info("%s is gone: nothing to detach", self.target.label)

    def settled(self) -> dict[str, Any]:
        """Describe the target, polling while it is Pending or Updating, within the deadline."""
        polls = 0
        while True:
            described = self.target.describe()
            status = described.get("Status")
            if status not in WAITING:
                return described
            polls += 1
            if not self.deadline.wait(min(MAX_POLL_SECONDS, 2.0**polls)):
                raise StillWaiting(
                    f"{self.target.label} is still {status} after {self.deadline.elapsed():.0f} s:"
                    " gave up waiting for InService"
                )
            logger.info("%s is %s: poll %d", self.target.label, status, polls)

    def changed(self, described: dict[str, Any]) -> tuple[dict[str, dict[str, Any]], list[Entry]]:
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

    def prepare(self) -> None:
        """Work to redo at the start of each cycle (ResourceInUse reruns included): none here."""

    def cycle(self) -> None:
        """Describe (waiting), then write and verify with the description the wait returns."""
        self.prepare()
        described = self.settled()
        while True:
            status = described.get("Status")
            if self.deleting and status == "Deleting":
                logger.info("%s is being deleted: nothing to detach", self.target.label)
                return
            changed, applied = self.changed(described)
            if not changed and (self.deleting or status in WRITABLE):
                return  # nothing to do, or nothing left to do: the last write took
            self.check_writable(described)
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
            described = self.settled()
            if described.get("Status") != "InService":
                raise not_in_service(self.target, described, "after the update")

    def check_writable(self, described: dict[str, Any]) -> None:
        if described.get("Status") not in WRITABLE:
            raise not_in_service(self.target, described, "before the update")
