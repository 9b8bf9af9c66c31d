"""The deploy-time base image check's resources (its function, role, policy, log group and the check
resources themselves, all under ``base_image_check.CHECK_ID``), for tests about something else: their
"every function / policy / role of the stack" leaves the check's out, and only the check's."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from constructs_lib.base_image_check import CHECK_ID


def is_check(logical_id: str) -> bool:
    return logical_id.startswith(CHECK_ID)


def without_check(resources: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in resources.items() if not is_check(k)}


def depends_on(resource: Mapping[str, Any]) -> list[str]:
    """A resource's DependsOn but the check resources (tests of the versions' own chain)."""
    return [d for d in resource.get("DependsOn", []) if not is_check(d)]
