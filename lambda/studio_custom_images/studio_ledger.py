"""The ledger: what each resource (stack, logical id) declared on a Studio target, in SSM Parameter Store.

A target's records live under ``{PREFIX}/{physical id}``; one owner's record is compact JSON
``{"StackId", "LogicalResourceId", "Entries": [...]}`` cut into parts of at most 4096 characters (the
standard tier's 4 KB), stored as ``{target path}/{owner hash}/{n}``. Deploys read it to keep entries
another owner still declares and to refuse conflicting declarations; the scheduled reconciliation reads
it to put back what a stack declared. ``docs/studio-custom-resource.md`` is the contract.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from typing import Any, NamedTuple

from custom_resource import ssm
from studio_entries import Entry, Target, check_keys, entry_of

logger = logging.getLogger(__name__)

# Exactly the SSM actions this code calls, on parameters under PREFIX only.
SSM_ACTIONS = ("ssm:GetParametersByPath", "ssm:PutParameter", "ssm:DeleteParameters")
PREFIX = "/sagemaker-image-constructs/studio"
MAX_PART = 4096  # characters per parameter value in the standard tier (the JSON is ASCII: bytes too)
PAGE = 10  # GetParametersByPath's MaxResults at most
MAX_DELETE = 10  # names per DeleteParameters call at most
MAX_REASON = 256
HASH = re.compile(r"[0-9a-f]{16}", re.ASCII)
PART = re.compile(r"0|[1-9][0-9]{0,5}", re.ASCII)
STACK_ARN = re.compile(r"arn:[^:]+:cloudformation:[^:]*:[^:]*:stack/(?P<name>[^/]+)/.+")


class LedgerError(RuntimeError):
    """A record that cannot be read back (written concurrently, or damaged)."""


def stack_name(stack_id: str) -> str:
    """A stack's name from its ARN ``arn:<partition>:cloudformation:<region>:<account>:stack/<name>/<id>``."""
    match = STACK_ARN.fullmatch(stack_id)
    return match["name"] if match else stack_id


class Owner(NamedTuple):
    """The per-target resource that declares entries: its stack and logical id."""

    stack_id: str
    logical_id: str

    @property
    def hash(self) -> str:
        return hashlib.sha256(f"{self.stack_id}/{self.logical_id}".encode()).hexdigest()[:16]

    @property
    def label(self) -> str:
        return f"stack {stack_name(self.stack_id)!r} (resource {self.logical_id!r})"


class Record(NamedTuple):
    """One owner's declaration on a target, and the parameters (names and values) it was read from."""

    owner: Owner
    entries: tuple[Entry, ...]
    parameters: tuple[tuple[str, str], ...] = ()

    def declares(self, key: tuple[str, str, str]) -> Entry | None:
        return next((entry for entry in self.entries if entry.key == key), None)


def path_of(target: Target) -> str:
    return f"{PREFIX}/{target.physical_id}"


def _cut(head: str, detail: str) -> str:
    """head + detail within crhelper's 256 characters (it would keep only the end of a longer one)."""
    room = MAX_REASON - len(head)
    return head + (detail if len(detail) <= room else detail[: max(room - 3, 0)] + "...")


def _decode(target: Target, owner_hash: str, parts: dict[int, tuple[str, str]], path: str) -> Record:
    """The record from its parts, in order of n; a LedgerError naming the parameter if it does not decode."""
    numbers = sorted(parts)
    if numbers != list(range(len(numbers))):
        missing = min(set(range(len(numbers) + 1)) - set(numbers))
        raise LedgerError(
            _cut(
                f"Ledger record {path}/{owner_hash}/{missing} is missing",
                ": written concurrently, or damaged",
            )
        )
    parameters = tuple(parts[n] for n in numbers)
    first = parameters[0][0]
    try:
        data: Any = json.loads("".join(value for _, value in parameters))
        if not isinstance(data, dict) or set(data) != {"StackId", "LogicalResourceId", "Entries"}:
            raise ValueError("not an object of StackId, LogicalResourceId and Entries")
        owner = Owner(data["StackId"], data["LogicalResourceId"])
        if not isinstance(owner.stack_id, str) or not isinstance(owner.logical_id, str):
            raise ValueError("StackId and LogicalResourceId must be strings")
        if owner.hash != owner_hash:
            raise ValueError(f"its owner's hash is {owner.hash}")
        if not isinstance(data["Entries"], list):
            raise ValueError("Entries must be a list")
        entries = tuple(entry_of(target, item, f"Entries[{n}]") for n, item in enumerate(data["Entries"]))
        check_keys(entries, "Entries")
    except ValueError as error:  # json.JSONDecodeError is one
        raise LedgerError(
            _cut(f"Ledger record {first} does not decode (written concurrently, or damaged): ", str(error))
        ) from error
    return Record(owner, entries, parameters)


def read(target: Target) -> dict[str, Record]:
    """Every record on the target, by owner hash: GetParametersByPath, page by page."""
    path = path_of(target)
    found: dict[str, dict[int, tuple[str, str]]] = {}
    params: dict[str, Any] = {"Path": path, "Recursive": True, "MaxResults": PAGE}
    while True:
        page = ssm().get_parameters_by_path(**params)
        for parameter in page.get("Parameters", []):
            name, value = parameter["Name"], parameter["Value"]
            owner_hash, _, number = name[len(path) + 1 :].partition("/")
            if not HASH.fullmatch(owner_hash) or not PART.fullmatch(number):
                logger.info("%s: parameter %s is not a part of a record: ignored", target.label, name)
                continue
            found.setdefault(owner_hash, {})[int(number)] = (name, value)
        if not page.get("NextToken"):
            break
        params["NextToken"] = page["NextToken"]
    return {owner_hash: _decode(target, owner_hash, parts, path) for owner_hash, parts in found.items()}


def write(target: Target, owner: Owner, entries: tuple[Entry, ...], old: Record | None) -> None:
    """Store the owner's record; parts already holding the same text are not rewritten.

    The higher parts go first and part 0 last, then the parts the record no longer needs are deleted.
    A reader between those calls sees a mix that does not decode, and fails naming the parameter (no
    order avoids that for a record of several parts; one of 4096 characters or less, about 25 entries,
    is a single PutParameter and never seen half-written).
    """
    text = json.dumps(
        {
            "StackId": owner.stack_id,
            "LogicalResourceId": owner.logical_id,
            "Entries": [entry.as_record() for entry in entries],
        },
        separators=(",", ":"),
    )
    chunks = [text[at : at + MAX_PART] for at in range(0, len(text), MAX_PART)]
    names = [f"{path_of(target)}/{owner.hash}/{n}" for n in range(len(chunks))]
    stored = dict(old.parameters) if old else {}
    for name, chunk in reversed(list(zip(names, chunks, strict=True))):
        if stored.get(name) != chunk:
            ssm().put_parameter(Name=name, Value=chunk, Type="String", Tier="Standard", Overwrite=True)
    _delete([name for name in stored if name not in names])
    logger.info(
        "%s: ledger record of %s: %d entries, %d parts", target.label, owner.label, len(entries), len(chunks)
    )


def delete(target: Target, record: Record | None) -> None:
    """Delete a record read from the target (nothing if there was none)."""
    if record:
        _delete([name for name, _ in record.parameters])
        logger.info("%s: ledger record of %s deleted", target.label, record.owner.label)


def _delete(names: list[str]) -> None:
    for at in range(0, len(names), MAX_DELETE):
        ssm().delete_parameters(Names=names[at : at + MAX_DELETE])


def declared_by_others(records: dict[str, Record], owner: Owner) -> dict[tuple[str, str, str], Record]:
    """Each key another owner's record declares, and (the first) such record."""
    declared: dict[tuple[str, str, str], Record] = {}
    for record in records.values():
        if record.owner != owner:
            for entry in record.entries:
                declared.setdefault(entry.key, record)
    return declared


def _shown(entry: Entry) -> str:
    pin = f"version {entry.version}" if entry.version is not None else "unpinned"
    return f"{entry.config!r} {pin}"


def check_conflicts(
    target: Target, records: dict[str, Record], owner: Owner, entries: tuple[Entry, ...]
) -> None:
    """Refuse an entry another owner declares with another config or version (identical ones are shared)."""
    for record in records.values():
        if record.owner == owner:
            continue
        for entry in entries:
            theirs = record.declares(entry.key)
            if theirs and theirs != entry:
                raise ValueError(
                    _cut(
                        f"Stack {stack_name(record.owner.stack_id)!r} (resource {record.owner.logical_id!r}) "
                        f"already declares {entry.image!r} in {entry.settings} {entry.app_type} of ",
                        f"{target.label} as {_shown(theirs)}, not {_shown(entry)}: one entry per image"
                        " and place; declare the same one, or remove it there first",
                    )
                )
