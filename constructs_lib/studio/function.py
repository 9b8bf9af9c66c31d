"""The stack's one Studio function (``lambda/studio_custom_images``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from aws_cdk import Duration, Stack

from ..provider import _FunctionProvider, nag_resource
from .contract import (
    FUNCTION_TIMEOUT,
    LEDGER_PREFIX,
    PROVIDER_ID,
    SAGEMAKER_ACTIONS,
    SSM_READ_ACTIONS,
    SSM_WRITE_ACTIONS,
)

_KIND = "@@kind@@"
_NAME = "@@target@@"
_PATH = "@@ledger-path@@"


class _StudioProvider(_FunctionProvider):
    """The stack's one Studio function; its role grows by three ARNs per target (the target, its ledger
    path and the records below it)."""

    PROVIDER_ID: ClassVar[str] = PROVIDER_ID
    HANDLER: ClassVar[str] = "studio_custom_images"
    DESCRIPTION: ClassVar[str] = (
        "Custom::SageMakerStudioCustomImages: lists custom images in Studio domains, user profiles and spaces"
    )
    ACTIONS: ClassVar[Sequence[str]] = SAGEMAKER_ACTIONS
    # arn:aws-us-gov:ssm:us-isof-south-1:<12 digits>:parameter/sagemaker-image-constructs/studio/
    # <domain id, 63>/user-profile/<63>/* (a target's SageMaker ARN is at most 194)
    ARN_SIZE_ESTIMATE: ClassVar[int] = 234
    TIMEOUT: ClassVar[Duration] = FUNCTION_TIMEOUT

    def __init__(self, scope: Stack, id: str) -> None:
        super().__init__(scope, id)
        # The three ARNs of a target with placeholders, and how cdk-nag prints the records' one: formatted
        # and resolved once per stack, since two targets' ARNs differ in their names alone, where doing it
        # per target costs four round trips.
        self._arns: tuple[str, str, str, str] | None = None
        self.reconciliation: Any = None  # the stack's reconcile rules (reconcile.Reconciliation)

    def allow_target(self, kind: str, name: str, physical_id: str, *, literal: bool) -> None:
        """Let the function update this target (``kind``/``name``, as in its ARN), read its ledger path
        and write the records below it; nothing wider."""
        if self._arns is None:
            stack = self._stack
            records = stack.format_arn(service="ssm", resource="parameter", resource_name=f"{_PATH}/*")
            self._arns = (
                stack.format_arn(service="sagemaker", resource=_KIND, resource_name=_NAME),
                stack.format_arn(service="ssm", resource="parameter", resource_name=_PATH),
                records,
                nag_resource(stack.resolve(records)),
            )
        target, path, records, nag_records = self._arns
        ledger = f"{LEDGER_PREFIX}/{physical_id}".lstrip("/")
        self.allow(target.replace(_KIND, kind).replace(_NAME, name))
        self.allow(path.replace(_PATH, ledger), actions=SSM_READ_ACTIONS)
        self.allow(
            records.replace(_PATH, ledger),
            actions=SSM_WRITE_ACTIONS,
            wildcard_reason="The ledger records of this one Studio target, one per stack that lists images "
            "there, each split over parameters numbered at deploy time",
            nag_name=nag_records.replace(_PATH, ledger) if literal else None,
        )
