"""The scheduled reconciliation: put back entries a stack declared that another writer dropped.

An EventBridge rule invokes the function with ``{"SageMakerImageConstructs": "reconcile", "StackId":
..., "Targets": [<physical id>, ...]}`` (not a CloudFormation event: no crhelper, no answer). For each
target it reads the ledger, and when the stack still has a record there it writes the missing entries
it declares: one Update* at most (plus the verification's rewrites if a concurrent writer interferes),
none when nothing is missing. It never removes an entry. Each restore is logged and published as one
CloudWatch metric in Embedded Metric Format (a JSON line on stdout: no cloudwatch:PutMetricData).
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import custom_resource
import studio_ledger
from custom_resource import Deadline
from studio_entries import Entry, Target, target_of
from studio_write import WRITABLE, ReadModifyWrite, StillWaiting, TargetGone

logger = logging.getLogger(__name__)

EVENT_KEY = "SageMakerImageConstructs"
EVENT_VALUE = "reconcile"
METRIC_NAMESPACE = "SageMakerImageConstructs/Studio"
METRIC_NAME = "EntriesRestored"
TARGET_SECONDS = 60.0  # how long one target may keep the run waiting (Pending/Updating, ResourceInUse)
MIN_TARGET_SECONDS = 5.0  # less left in the run: the remaining targets wait for the next run


def is_reconcile(event: Any) -> bool:
    return isinstance(event, dict) and EVENT_KEY in event


class Skip(Exception):
    """Nothing to do on this target in this run, for the reason given."""


class Restore(ReadModifyWrite):
    """Put the stack's declared entries that are missing; never remove, never take back."""

    def __init__(self, target: Target, deadline: Deadline, stack_id: str) -> None:
        super().__init__(target, deadline)
        self.stack_id = stack_id

    def prepare(self) -> None:
        """Read the ledger afresh (a ResourceInUse rerun sees a record a deploy changed meanwhile)."""
        records = studio_ledger.read(self.target).values()
        own = [record for record in records if record.owner.stack_id == self.stack_id]
        if not own:
            raise Skip("no ledger record of this stack (deleted, or never deployed): nothing to restore")
        theirs = {
            entry.key: (entry, record)
            for record in records
            if record.owner.stack_id != self.stack_id
            for entry in record.entries
        }
        wanted: dict[tuple[str, str, str], Entry] = {}
        for entry in (entry for record in own for entry in record.entries):
            other, record = theirs.get(entry.key, (entry, None))
            if other != entry and record:
                logger.warning(
                    "%s: %s is declared differently by %s: not restored",
                    self.target.label,
                    entry.image,
                    record.owner.label,
                )
                continue
            wanted.setdefault(entry.key, entry)
        self.puts = tuple(wanted.values())

    def check_writable(self, described: dict[str, Any]) -> None:
        if described.get("Status") not in WRITABLE:
            reason = described.get("FailureReason")
            raise Skip(
                f"{self.target.label} is {described.get('Status')}" + (f": {reason}" if reason else "")
            )


def emit(physical_id: str, stack_id: str, restored: int) -> None:
    """One EntriesRestored data point, as an Embedded Metric Format log line (the whole line is JSON)."""
    line = {
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": METRIC_NAMESPACE,
                    "Dimensions": [["Target"]],
                    "Metrics": [{"Name": METRIC_NAME, "Unit": "Count"}],
                }
            ],
        },
        "Target": physical_id,
        "StackId": stack_id,
        METRIC_NAME: restored,
    }
    print(json.dumps(line, separators=(",", ":")), flush=True)


def _malformed(event: dict[str, Any]) -> str | None:
    if event.get(EVENT_KEY) != EVENT_VALUE:
        return f"{EVENT_KEY} is {event.get(EVENT_KEY)!r}, not {EVENT_VALUE!r}"
    stack_id = event.get("StackId")
    if not isinstance(stack_id, str) or not studio_ledger.STACK_ARN.fullmatch(stack_id):
        return f"StackId {stack_id!r} is not a stack's ARN"
    targets = event.get("Targets")
    if not isinstance(targets, list) or not all(isinstance(target, str) for target in targets):
        return f"Targets {targets!r} is not a list of physical ids"
    return None


def reconcile(event: dict[str, Any], context: Any, max_seconds: float) -> dict[str, Any]:
    """Each target in turn; a target's failure is logged and the run goes on. Never raises for a target
    (Lambda retries an asynchronous invocation that raises, twice)."""
    problem = _malformed(event)
    if problem:
        logger.error("Reconcile event ignored: %s", problem)
        return {"Ignored": problem}
    stack_id: str = event["StackId"]
    run = Deadline(context, max_seconds)
    summary: dict[str, dict[str, Any]] = {"Restored": {}, "Skipped": {}, "Failed": {}}
    for physical_id in dict.fromkeys(event["Targets"]):
        target = target_of(physical_id)
        left = run.at - custom_resource.clock()
        if target is None:
            summary["Skipped"][physical_id] = "not a target's physical id"
        elif left < MIN_TARGET_SECONDS:
            summary["Skipped"][physical_id] = "no time left in this run: left to the next"
        else:
            work = Restore(target, Deadline(context, min(TARGET_SECONDS, left)), stack_id)
            try:
                work.apply()
            except (Skip, StillWaiting, TargetGone) as why:
                summary["Skipped"][physical_id] = str(why)
            except Exception as error:
                logger.exception("%s: reconcile failed", target.label)
                summary["Failed"][physical_id] = str(error)
            else:
                summary["Restored"][physical_id] = len(work.written)
                if work.written:
                    logger.info(
                        "%s: restored %d entries of %s: %s",
                        target.label,
                        len(work.written),
                        studio_ledger.stack_name(stack_id),
                        [entry.as_record() for entry in work.written],
                    )
                    emit(physical_id, stack_id, len(work.written))
        if physical_id in summary["Skipped"]:
            logger.info("%s: skipped: %s", physical_id, summary["Skipped"][physical_id])
    logger.info("Reconcile of %s: %s", studio_ledger.stack_name(stack_id), summary)
    return summary
