"""Custom::SageMakerStudioCustomImages: list custom images in one existing Studio target's settings.

One resource per target (a domain, a user profile or a space) holds every entry that a stack lists
there; ``docs/studio-custom-resource.md`` is the contract. Each deploy event is one read-modify-write
of that target (``studio_write``) with a single Update* call however many entries change, and keeps
the ledger (``studio_ledger``): what each resource declared there, so that an entry another stack still
declares stays, and so that the scheduled reconciliation (``studio_reconcile``) can put back what other
writers dropped. Deletes of 0.2.0's per-attachment resources are ``studio_legacy``'s. The crhelper
set-up, the clients and the ResourceInUse retry are shared (``custom_resource``).
"""

from __future__ import annotations

import logging
from typing import Any

import studio_ledger
import studio_legacy
from custom_resource import Deadline, cfn_resource, parse_physical_id
from studio_entries import APP_TYPES, APP_TYPES_IN, LEDGER_VERSION, PHYSICAL_ID, Entry, Target
from studio_entries import parse as _parse
from studio_ledger import PREFIX, SSM_ACTIONS, Owner
from studio_reconcile import EVENT_KEY, EVENT_VALUE, METRIC_NAME, METRIC_NAMESPACE, is_reconcile, reconcile
from studio_write import MAX_POLL_SECONDS, MAX_WRITES, ReadModifyWrite

logger = logging.getLogger(__name__)

__all__ = [  # what the construct's contract tests compare with its own copies
    "APP_TYPES",
    "APP_TYPES_IN",
    "EVENT_KEY",
    "EVENT_VALUE",
    "LEDGER_VERSION",
    "MAX_POLL_SECONDS",
    "MAX_SECONDS",
    "MAX_WRITES",
    "METRIC_NAME",
    "METRIC_NAMESPACE",
    "PREFIX",
    "SAGEMAKER_ACTIONS",
    "SSM_ACTIONS",
    "_parse",
    "handler",
]

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
# Lambda deadline); a reconciliation run too, all its targets together.
MAX_SECONDS = 600.0


def handler(event: dict[str, Any], context: Any) -> dict[str, Any] | None:
    """Lambda entry point: the scheduled reconciliation, or crhelper for CloudFormation's events
    (it answers SUCCESS, or FAILED with str(error))."""
    if is_reconcile(event):
        return reconcile(event, context, MAX_SECONDS)
    helper(event, context)
    return None


def _owner(event: dict[str, Any]) -> Owner:
    """The ledger's owner of what this event declares: the per-target resource."""
    return Owner(str(event["StackId"]), str(event["LogicalResourceId"]))


def _put(
    event: dict[str, Any],
    target: Target,
    puts: tuple[Entry, ...],
    context: Any,
    removes: tuple[Entry, ...] = (),
    pinned: dict[tuple[str, str, str], Entry] | None = None,
) -> str:
    """Create and Update: refuse a conflicting declaration, record ours, then write SageMaker.

    Removals and the take-back after a failure skip every key another owner's record declares. The
    record is not reverted on failure: CloudFormation's rollback (an Update or a Delete) rewrites it.
    """
    owner = _owner(event)
    records = studio_ledger.read(target)
    studio_ledger.check_conflicts(target, records, owner, puts)
    studio_ledger.write(target, owner, puts, records.get(owner.hash))
    others = studio_ledger.declared_by_others(records, owner)
    shared = [entry for entry in removes if entry.key in others]
    if shared:
        logger.info("%s: kept, still declared by others: %s", target.label, [e.image for e in shared])
    removes = tuple(entry for entry in removes if entry.key not in others)
    deadline = Deadline(context, MAX_SECONDS)
    work = ReadModifyWrite(target, deadline, puts=puts, removes=removes, pinned=pinned)
    try:
        work.apply()
    except Exception:
        takeback = tuple(entry for entry in work.written if entry.key not in others)
        if takeback:
            logger.info("%s: the invocation failed: removing the entries it wrote", target.label)
            try:
                ReadModifyWrite(target, deadline, removes=takeback, deleting=True).apply()
            except Exception:
                logger.exception("%s: could not remove the entries written", target.label)
        raise
    return target.physical_id


@helper.create
def create(event: dict[str, Any], context: Any) -> str:
    """The id is set before any work, so a failed Create answers it and its rollback Delete detaches."""
    target, entries = _parse(event["ResourceProperties"])
    helper.PhysicalResourceId = target.physical_id
    return _put(event, target, entries, context)


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
    """Apply the difference: gone keys removed (while ours, and declared by no other owner), new or
    changed entries put, the rest kept."""
    target, entries = _parse(event["ResourceProperties"])
    old = _old(event, target)
    new = {entry.key: entry for entry in entries}
    removes = tuple(entry for entry in old if entry.key not in new)
    pinned = {
        entry.key: entry
        for entry in old
        if entry.key in new and entry.version is not None and new[entry.key].version is None
    }
    return _put(event, target, entries, context, removes, pinned)


@helper.delete
def delete(event: dict[str, Any], context: Any) -> None:
    """Drop this resource's record, then remove its entries while still ours and declared by no other
    owner; a target gone (or Deleting) is success."""
    deadline = Deadline(context, MAX_SECONDS)
    match = PHYSICAL_ID.fullmatch(str(event.get("PhysicalResourceId", "")))
    if not match:
        if not studio_legacy.delete(event, deadline):
            parse_physical_id(event, PHYSICAL_ID)  # logs what the id is
        return
    target = Target(match["domain"], match["profile"], match["space"])
    owner = _owner(event)
    records = studio_ledger.read(target)
    # First, so that a reconciliation starting now finds nothing of ours to put back; a Delete that
    # fails below and is retried works from its properties, not from the record.
    studio_ledger.delete(target, records.get(owner.hash))
    try:
        parsed, entries = _parse(event.get("ResourceProperties") or {})
    except ValueError as error:
        logger.info("Properties do not parse (%s): no entry known to be ours", error)
        return
    if parsed != target:
        logger.info("Properties name another target than the id: no entry known to be ours there")
        return
    others = studio_ledger.declared_by_others(records, owner)
    kept = [entry.image for entry in entries if entry.key in others]
    if kept:
        logger.info("%s: kept, still declared by others: %s", target.label, kept)
    removes = tuple(entry for entry in entries if entry.key not in others)
    if removes:
        ReadModifyWrite(target, deadline, removes=removes, deleting=True).apply()
