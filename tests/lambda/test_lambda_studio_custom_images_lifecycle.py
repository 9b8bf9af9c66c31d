"""A stack's life with Studio attachments, through crhelper's real response path over HTTPS.

SageMaker is stubbed; the CloudFormation side is real bytes over TLS to 127.0.0.1. Also checks that,
with logs captured at DEBUG, nothing logged contains a ResponseURL or its signature; and that a fresh
import of the handler (a cold start) builds no client.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import sys
from typing import Any

import pytest
from lifecycle_checks import assert_answered_without_leaks

HANDLER = "studio_custom_images"  # conftest: index, sagemaker and cfn follow this handler

GENERATED_ID = re.compile(r"images-stack_BrokenImage_[A-Z0-9]{8}")
SPEC = {"InstanceType": "ml.t3.medium"}
TEAM = {"ImageName": "team-image", "AppImageConfigName": "team-config"}


def mine(version: int | None = None, config: str = "my-config") -> dict[str, Any]:
    listed: dict[str, Any] = {"ImageName": "my-image", "AppImageConfigName": config}
    if version is not None:
        listed["ImageVersionNumber"] = version
    return listed


def app(*images: dict[str, Any]) -> dict[str, Any]:
    return {"DefaultResourceSpec": SPEC, "CustomImages": list(images)}


def test_life_cycle_answers_exact_bodies_and_never_logs_the_response_url(
    cfn, sagemaker, cfn_endpoint, caplog, clock, crhelper_sleeps
):
    caplog.set_level(logging.DEBUG)
    sent: list[dict[str, Any]] = []

    def step(event: dict[str, Any], status: str, physical_id: str, reason: str = "") -> None:
        sent.append(event)
        assert cfn.send(event) == cfn.expected(event, status, physical_id, reason)
        sagemaker.done()

    domain_id = "d-abc123xyz/DefaultUserSettings/KernelGateway/my-image"
    profile_id = "d-abc123xyz/user-profile/alice/JupyterLab/my-image"
    space_id = "d-abc123xyz/space/team-space/KernelGateway/my-image"

    # 1. Create on the domain's defaults, pinned to version 3; the team's image stays.
    first = cfn.props(version=3)
    sagemaker.describe(settings={"KernelGatewayAppSettings": app(TEAM)})
    sagemaker.update("domain", "KernelGateway", app(TEAM, mine(3)))
    sagemaker.describe()
    step(cfn.event("Create", first, logical_id="DomainImage"), "SUCCESS", domain_id)

    # 2. Update with the same id: version 4 replaces our entry in place.
    second = cfn.props(version=4)
    sagemaker.describe(settings={"KernelGatewayAppSettings": app(TEAM, mine(3))})
    sagemaker.update("domain", "KernelGateway", app(TEAM, mine(4)))
    sagemaker.describe()
    update = cfn.event("Update", second, physical_id=domain_id, old=first, logical_id="DomainImage")
    step(update, "SUCCESS", domain_id)

    # 3. Create on a user profile (JupyterLab) that is still updating: wait, write, wait.
    profile = cfn.props("profile", app_type="JupyterLab")
    sagemaker.describe("profile", status="Updating")
    sagemaker.describe("profile", settings={})
    sagemaker.update("profile", "JupyterLab", {"CustomImages": [mine()]})
    sagemaker.describe("profile", status="Updating")
    sagemaker.describe("profile")
    step(cfn.event("Create", profile, logical_id="ProfileImage"), "SUCCESS", profile_id)
    assert clock.sleeps == [2.0, 2.0]

    # 4. Replacement: the profile's resource now targets a space: a new id ...
    space = cfn.props("space")
    sagemaker.describe("space", settings={"KernelGatewayAppSettings": app(TEAM)})
    sagemaker.update("space", "KernelGateway", app(TEAM, mine()))
    sagemaker.describe("space")
    replace = cfn.event("Update", space, physical_id=profile_id, old=profile, logical_id="ProfileImage")
    step(replace, "SUCCESS", space_id)

    # ... and the Delete of the old id finds our entry changed by someone else: it stays.
    sagemaker.describe("profile", settings={"JupyterLabAppSettings": app(mine(config="their-config"))})
    step(
        cfn.event("Delete", profile, physical_id=profile_id, logical_id="ProfileImage"), "SUCCESS", profile_id
    )

    # 5. Stack delete: the domain is busy once (retried, reading afresh), then our entry goes ...
    sagemaker.describe(settings={"KernelGatewayAppSettings": app(TEAM, mine(4))})
    params = sagemaker.update_params("domain", "KernelGateway", app(TEAM))
    sagemaker.fails("update", "domain", "ResourceInUse", "Resource was modified concurrently", params)
    sagemaker.describe(settings={"KernelGatewayAppSettings": app(TEAM, mine(4))})
    sagemaker.update("domain", "KernelGateway", app(TEAM))
    sagemaker.describe()
    step(cfn.event("Delete", second, physical_id=domain_id, logical_id="DomainImage"), "SUCCESS", domain_id)

    # ... and the space is already gone: success all the same.
    sagemaker.fails("describe", "space", "ResourceNotFound", "Space team-space does not exist.")
    step(cfn.event("Delete", space, physical_id=space_id, logical_id="ProfileImage"), "SUCCESS", space_id)

    # 6. A Create the API could not do fails at once, under an id crhelper makes up ...
    broken = cfn.event("Create", cfn.props("space", app_type="CodeEditor"), logical_id="BrokenImage")
    body = cfn.send(broken)
    sent.append(broken)
    assert GENERATED_ID.fullmatch(body["PhysicalResourceId"])
    reason = "AppType 'CodeEditor' has no CustomImages with SpaceName 'team-space': only KernelGateway there"
    assert body == cfn.expected(broken, "FAILED", body["PhysicalResourceId"], reason)

    # ... and the rollback Delete of that id succeeds without calling SageMaker.
    rollback = cfn.event(
        "Delete",
        broken["ResourceProperties"],
        physical_id=body["PhysicalResourceId"],
        logical_id="BrokenImage",
    )
    step(rollback, "SUCCESS", body["PhysicalResourceId"])

    # Every response went to its own pre-signed URL; none of those URLs reached the logs.
    assert_answered_without_leaks(sent, cfn_endpoint, caplog, cfn.index.__name__, crhelper_sleeps)


def test_cold_start_builds_no_client_until_a_call_needs_one(index, shared, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("AWS_SAM_LOCAL", raising=False)
    monkeypatch.delitem(sys.modules, "custom_resource")  # put back after the test
    spec = importlib.util.spec_from_file_location("studio_custom_images_cold", index.__file__)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    fresh_shared = sys.modules["custom_resource"]
    assert fresh_shared is not shared and fresh_shared.SAGEMAKER is None
    assert "AWS_SAM_LOCAL" not in os.environ
    for polling_client in ("_lambda_client", "_events_client", "_logs_client"):
        assert not hasattr(module.helper, polling_client)
    assert module.sagemaker() is fresh_shared.SAGEMAKER is module.sagemaker()


def test_a_client_that_cannot_be_built_is_a_failed_answer(cfn, shared, monkeypatch: pytest.MonkeyPatch):
    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("no endpoint for this partition")

    monkeypatch.setattr(shared, "SAGEMAKER", None)
    monkeypatch.setattr(shared.boto3, "client", broken)
    body = cfn.send(cfn.event("Create", cfn.props()))

    assert body["Status"] == "FAILED" and body["Reason"] == "no endpoint for this partition"
