"""Reconciliation: EventBridge rules that invoke the Studio function for a stack's targets, so that the
entries another writer removed (a platform stack's Domain update, a person, a script) come back
without a deploy.

The function re-applies what the stack's own ledger records declare, writes only what is missing and
never removes anything (``docs/studio-custom-resource.md``). A rule holds at most 5 targets (an
EventBridge limit) and each target's input at most 8,192 characters, so a stack's targets are listed in
as many inputs, and rules, as they need; most stacks need one of each.
"""

from __future__ import annotations

from typing import Any

import jsii
from aws_cdk import Aws, Duration, IStableAnyProducer, IStableListProducer, Lazy, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_lambda as lambda_
from constructs import Construct, Node

from .. import validation
from ..enums import ReconcileDefault
from .contract import DEFAULT_RECONCILE_INTERVAL, RECONCILE_KEY, RECONCILE_VALUE
from .existing import _ExistingTarget
from .function import _StudioProvider

RECONCILE_ID = "Reconcile"  # under the stack's Studio function (construct ids are API)
MAX_INPUT = 7_000  # characters of targets per input, of EventBridge's 8,192 (the StackId and keys fit)
MAX_TARGETS_PER_RULE = 5  # EventBridge's limit
# A physical id named by tokens, at its longest: d-<61>/user-profile/<63>, quoted, and a comma.
TOKEN_TARGET_SIZE = 2 + 61 + len("/user-profile/") + 63 + 3
# What the opt-in rule listens for: CloudTrail's record of another writer's update of a target.
UPDATE_EVENTS = ("UpdateDomain", "UpdateUserProfile", "UpdateSpace")


@jsii.implements(IStableAnyProducer)
class _Listed:
    """What a producer renders at synth, as the attachments added it: one input's physical ids, or a
    rule's targets."""

    def __init__(self) -> None:
        self.ids: list[Any] = []
        self.size = 0

    def produce(self) -> Any:
        return self.ids


class _Group:
    """One rule kind (a schedule, or the opt-in CloudTrail rule): its rules and their inputs.

    Written at CloudFormation's level (``CfnRule``, ``CfnPermission``): each input is a rule target of
    its own, added as targets come, which the L2 ``Rule`` and its Lambda target also render, at the
    cost of several more constructs per rule at synth.
    """

    def __init__(self, owner: Reconciliation, id: str, rule_props: dict[str, Any]) -> None:
        self._owner = owner
        self._id = id
        self._rule_props = rule_props
        self._rule_nodes: list[Node] = []  # each rule's node, read once: every target adds a wait there
        self._rule_targets: list[_Listed] = []  # each rule's targets
        self._inputs: list[_Listed] = []
        self.members: dict[str, _Listed] = {}  # by the target construct's id

    def add(self, target: _ExistingTarget) -> None:
        size = len(target.physical_id) + 3 if target.literal else TOKEN_TARGET_SIZE
        if not self._inputs or self._inputs[-1].size + size > MAX_INPUT:
            self._inputs.append(self._new_input())
        listed = self._inputs[-1]
        listed.ids.append(target.physical_id)
        listed.size += size
        self.members[target.construct_id] = listed
        # Created after the target's resource, deleted before it: a run never meets a half-made target.
        self._rule_nodes[-1].add_dependency(target.resource)

    def remove(self, target: _ExistingTarget) -> None:
        listed = self.members.pop(target.construct_id)
        listed.ids.remove(target.physical_id)

    def _new_input(self) -> _Listed:
        function_arn = self._owner.provider.function_arn
        if len(self._inputs) % MAX_TARGETS_PER_RULE == 0:  # the first input of a new rule
            n = len(self._rule_nodes)
            id = self._id if n == 0 else f"{self._id}{n + 1}"
            rule_targets = _Listed()
            rule = events.CfnRule(
                self._owner, id, state="ENABLED", targets=Lazy.any(rule_targets), **self._rule_props
            )
            lambda_.CfnPermission(
                self._owner,
                f"{id}Permission",
                action="lambda:InvokeFunction",
                function_name=function_arn,
                principal="events.amazonaws.com",
                source_arn=rule.attr_arn,
            )
            self._rule_nodes.append(rule.node)
            self._rule_targets.append(rule_targets)
        listed = _Listed()
        event = {RECONCILE_KEY: RECONCILE_VALUE, "StackId": Aws.STACK_ID, "Targets": Lazy.any(listed)}
        rule_targets = self._rule_targets[-1]
        rule_targets.ids.append(
            {  # the L1's own keys: CfnRule renders them as CloudFormation's
                "arn": function_arn,
                "id": f"Target{len(rule_targets.ids)}",
                "input": self._owner.stack.to_json_string(event),
                "retryPolicy": {"maximumRetryAttempts": 2},
            }
        )
        return listed


class Reconciliation(Construct):
    """A stack's reconcile rules: one schedule per interval its targets use, and the opt-in rule."""

    @classmethod
    def of(cls, stack: Stack) -> Reconciliation:
        """The stack's reconcile rules, made on first use under its Studio function."""
        provider = _StudioProvider.of(stack)
        if provider.reconciliation is None:  # kept on the provider: a tree lookup is two round trips
            provider.reconciliation = cls(provider, RECONCILE_ID)
        assert isinstance(provider.reconciliation, Reconciliation)
        return provider.reconciliation

    def __init__(self, provider: _StudioProvider, id: str) -> None:
        super().__init__(provider, id)
        self.provider = provider
        self.stack: Stack = provider._stack
        self.default: Duration | None = DEFAULT_RECONCILE_INTERVAL
        self._groups: dict[str, _Group] = {}
        self._minutes: dict[str, int | None] = {}  # each target's interval, by its construct id
        self._domains: list[str] = []  # the opt-in rule's domain ids
        # Each interval checked and in minutes, by the Duration object: three round trips a check, and the
        # stack's attachments share one object (the default), so most of them need none.
        self._checked: dict[int, tuple[Duration, int]] = {}

    def set_default(self, owner: object, interval: Duration | None) -> None:
        """The interval of the stack's attachments that set none; only before the first of them."""
        if self._minutes:
            raise validation.ValidationError(
                f"{owner}: set the stack's reconcile interval before its first attachment to an existing "
                "target: the attachments made before it already took the default"
            )
        self.default = interval if interval is None else _check(owner, interval)

    def add(
        self,
        owner: object,
        target: _ExistingTarget,
        interval: Duration | ReconcileDefault | None,
        on_change: bool,
    ) -> None:
        """List the target in the schedule of the shortest interval its attachments ask for (None on one
        attachment leaves it to the others), and in the opt-in rule if any of them asks."""
        wanted = self.default if isinstance(interval, ReconcileDefault) else interval
        minutes = None if wanted is None else self._whole_minutes(owner, wanted)
        key = target.construct_id
        before = self._minutes.get(key)
        after = minutes if before is None else before if minutes is None else min(before, minutes)
        self._minutes[key] = after
        if after != before:
            if before is not None:
                self._group(f"Every{before}Minutes", before).remove(target)
            if after is not None:
                self._group(f"Every{after}Minutes", after).add(target)
        if on_change and key not in self._group("OnChange", None).members:
            self._group("OnChange", None).add(target)
            self._domains.append(target.domain_id)

    def _whole_minutes(self, owner: object, interval: Duration) -> int:
        """``interval`` checked (``_check``) and in minutes; a Duration object checked once."""
        found = self._checked.get(id(interval))
        if found is None:  # (the Duration is kept, so its id is not reused)
            found = self._checked[id(interval)] = (interval, int(_check(owner, interval).to_minutes()))
        return found[1]

    def _group(self, id: str, minutes: int | None) -> _Group:
        group = self._groups.get(id)
        if group is None:
            if minutes is not None:
                props: dict[str, Any] = {
                    "schedule_expression": f"rate({_rate(minutes)})",
                    "description": f"Re-applies this stack's Studio custom images every {minutes} minutes",
                }
            else:
                props = {
                    "event_pattern": {
                        "source": ["aws.sagemaker"],
                        "detail-type": ["AWS API Call via CloudTrail"],
                        "detail": {
                            "eventSource": ["sagemaker.amazonaws.com"],
                            "eventName": list(UPDATE_EVENTS),
                            "requestParameters": {"domainId": Lazy.list(_Domains(self._domains))},
                        },
                    },
                    "description": "Re-applies this stack's Studio custom images when another writer "
                    "updates their targets (CloudTrail management events)",
                }
            group = self._groups[id] = _Group(self, id, props)
        return group


@jsii.implements(IStableListProducer)
class _Domains:
    def __init__(self, domains: list[str]) -> None:
        self._domains = domains

    def produce(self) -> list[str]:
        return list(dict.fromkeys(self._domains))


def _rate(minutes: int) -> str:
    """EventBridge's rate expression, in the largest whole unit (as aws-cdk-lib's Schedule.rate)."""
    for size, unit in ((1440, "day"), (60, "hour"), (1, "minute")):
        if minutes % size == 0:
            count = minutes // size
            return f"{count} {unit}" if count == 1 else f"{count} {unit}s"
    raise AssertionError("unreachable")


def _check(owner: object, interval: Duration) -> Duration:
    """EventBridge schedules in whole minutes, at least one."""
    if not isinstance(interval, Duration):
        raise validation.ValidationError(
            f"{owner}: invalid reconcile_interval {interval!r}: expected a Duration (or None to turn "
            "reconciliation off)"
        )
    if interval.is_unresolved():
        raise validation.ValidationError(f"{owner}: invalid reconcile_interval: it must not be a token")
    seconds = interval.to_seconds()
    if seconds < 60 or seconds % 60:
        raise validation.ValidationError(
            f"{owner}: invalid reconcile_interval {interval.to_human_string()}: EventBridge schedules "
            "whole minutes, at least 1"
        )
    return interval
