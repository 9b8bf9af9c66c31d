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

GENERATED_ID = re.compile(r"images-stack_BrokenImages_[A-Z0-9]{8}")
SPEC = {"InstanceType": "ml.t3.medium"}
TEAM = {"ImageName": "team-image", "AppImageConfigName": "team-config"}
DOMAIN_ID = "d-abc123xyz/domain"
PROFILE_ID = "d-abc123xyz/user-profile/alice"
NO_READ = (
    "SageMaker is unable to use your associated execution role arn:aws:iam::123456789012:role/Exec to"
    " describe image version. Verify that your associated execution role has permission for"
    " 'sagemaker:DescribeImageVersion'."
)
HINT = " Fix: image.grant_read(<the target's execution role>)"


def mine(version: int | None = None, image: str = "my-image", config: str = "my-config") -> dict[str, Any]:
    listed: dict[str, Any] = {"ImageName": image, "AppImageConfigName": config}
    if version is not None:
        listed["ImageVersionNumber"] = version
    return listed


def app(*images: dict[str, Any]) -> dict[str, Any]:
    return {"DefaultResourceSpec": SPEC, "CustomImages": list(images)}


def domain(kg: list[dict[str, Any]], lab: list[dict[str, Any]]) -> dict[str, Any]:
    """A domain's settings objects: KernelGateway users' list, and JupyterLab spaces' list."""
    return {
        "DefaultUserSettings": {"KernelGatewayAppSettings": app(*kg)},
        "DefaultSpaceSettings": {"JupyterLabAppSettings": app(*lab)},
    }


def stack_of(sent: list[dict[str, Any]]) -> str:
    """The stack of the events sent so far (one stack throughout)."""
    return str(sent[-1]["StackId"])


def test_life_cycle_answers_exact_bodies_and_never_logs_the_response_url(
    cfn, sagemaker, cfn_endpoint, caplog, clock, crhelper_sleeps, operations, ssm
):
    caplog.set_level(logging.DEBUG)
    sent: list[dict[str, Any]] = []

    def step(event: dict[str, Any], status: str, physical_id: str, reason: str = "") -> None:
        sent.append(event)
        assert cfn.send(event) == cfn.expected(event, status, physical_id, reason)
        sagemaker.done()

    def updates() -> int:
        return sum(name.startswith("Update") for name in operations)

    users_kg = cfn.entry("DefaultUserSettings", "KernelGateway", version=3)
    spaces_lab = cfn.entry("DefaultSpaceSettings", "JupyterLab")

    # 1. Create on the domain: an entry in each settings object, one UpdateDomain; the team's image stays.
    first = cfn.props("domain", users_kg, spaces_lab)
    sagemaker.describe(**domain([TEAM], []))
    sagemaker.update("domain", domain([TEAM, mine(3)], [mine()]))
    sagemaker.describe(**domain([TEAM, mine(3)], [mine(5)]))  # the unpinned entry shown with a number
    step(cfn.event("Create", first, logical_id="DomainImages"), "SUCCESS", DOMAIN_ID)
    assert updates() == 1
    assert len(ssm.record(DOMAIN_ID, stack_of(sent), "DomainImages")["Entries"]) == 2

    # 2. Update: the pin moves to 4; the unpinned entry, shown as 5, is ours and not rewritten.
    second = cfn.props("domain", {**users_kg, "ImageVersionNumber": "4"}, spaces_lab)
    sagemaker.describe(**domain([TEAM, mine(3)], [mine(5)]))
    sagemaker.update("domain", {"DefaultUserSettings": {"KernelGatewayAppSettings": app(TEAM, mine(4))}})
    sagemaker.describe(**domain([TEAM, mine(4)], [mine(5)]))
    update = cfn.event("Update", second, physical_id=DOMAIN_ID, old=first, logical_id="DomainImages")
    step(update, "SUCCESS", DOMAIN_ID)
    assert updates() == 2

    # 3. A failed Update: a new image the domain's role cannot read, and the spaces' entry dropped. The
    #    write leaves the domain Update_Failed; the function takes back what it wrote, then fails.
    new_image = cfn.entry("DefaultUserSettings", "KernelGateway", image="new-image", config="new-config")
    third = cfn.props("domain", {**users_kg, "ImageVersionNumber": "4"}, new_image)
    sagemaker.describe(**domain([TEAM, mine(4)], [mine(5)]))
    sagemaker.update(
        "domain",
        {
            "DefaultUserSettings": {
                "KernelGatewayAppSettings": app(TEAM, mine(4), mine(None, "new-image", "new-config"))
            },
            "DefaultSpaceSettings": {"JupyterLabAppSettings": app()},
        },
    )
    failed = domain([TEAM, mine(4), mine(1, "new-image", "new-config")], [])
    sagemaker.describe(status="Update_Failed", failure=NO_READ, **failed)
    sagemaker.describe(status="Update_Failed", failure=NO_READ, **failed)
    sagemaker.update("domain", {"DefaultUserSettings": {"KernelGatewayAppSettings": app(TEAM, mine(4))}})
    sagemaker.describe(**domain([TEAM, mine(4)], []))
    broken = cfn.event("Update", third, physical_id=DOMAIN_ID, old=second, logical_id="DomainImages")
    sent.append(broken)
    body = cfn.send(broken)
    sagemaker.done()
    assert body["Status"] == "FAILED" and body["PhysicalResourceId"] == DOMAIN_ID
    assert body["Reason"].startswith("Domain 'd-abc123xyz' is 'Update_Failed' after the update: SageMaker")
    assert body["Reason"].endswith(HINT) and len(body["Reason"]) <= 256
    assert updates() == 4

    # ... and CloudFormation's rollback (an Update with the properties swapped) puts back the spaces'
    #     entry; the failed update's new image is gone, and stays gone.
    sagemaker.describe(**domain([TEAM, mine(4)], []))
    sagemaker.update("domain", {"DefaultSpaceSettings": {"JupyterLabAppSettings": app(mine())}})
    sagemaker.describe(**domain([TEAM, mine(4)], [mine(5)]))
    rollback = cfn.event("Update", second, physical_id=DOMAIN_ID, old=third, logical_id="DomainImages")
    step(rollback, "SUCCESS", DOMAIN_ID)
    assert updates() == 5

    # 4. A Create on a user profile that is still updating, then fails after its write: it answers the
    #    profile's id, so the rollback Delete (from Update_Failed) detaches what it wrote.
    profile = cfn.props("profile", cfn.entry("UserSettings", "JupyterLab", version=2))
    lab = {"UserSettings": {"JupyterLabAppSettings": {"CustomImages": [mine(2)]}}}
    sagemaker.describe("profile", status="Updating")
    sagemaker.describe("profile")
    sagemaker.update("profile", lab)
    sagemaker.describe("profile", status="Updating", **lab)
    sagemaker.describe("profile", status="Failed", failure="Internal failure", **lab)
    sagemaker.describe("profile", status="Failed", failure="Internal failure", **lab)  # clean-up refused
    create = cfn.event("Create", profile, logical_id="ProfileImages")
    reason = "User profile 'alice' of domain 'd-abc123xyz' is 'Failed' after the update: Internal failure"
    step(create, "FAILED", PROFILE_ID, reason)
    assert clock.sleeps == [2.0, 2.0]

    sagemaker.describe("profile", status="Update_Failed", failure="Internal failure", **lab)
    sagemaker.update("profile", {"UserSettings": {"JupyterLabAppSettings": {"CustomImages": []}}})
    sagemaker.describe("profile")
    step(
        cfn.event("Delete", profile, physical_id=PROFILE_ID, logical_id="ProfileImages"),
        "SUCCESS",
        PROFILE_ID,
    )

    # 5. Stack delete: the domain is busy once (retried, reading afresh), then our entries go, in one write.
    sagemaker.describe(**domain([TEAM, mine(4)], [mine(5)]))
    gone = domain([TEAM], [])
    sagemaker.fails(
        "update",
        "domain",
        "ResourceInUse",
        "Resource was modified concurrently",
        {"DomainId": "d-abc123xyz", **gone},
    )
    sagemaker.describe(**domain([TEAM, mine(4)], [mine(5)]))
    sagemaker.update("domain", gone)
    sagemaker.describe(**gone)
    step(cfn.event("Delete", second, physical_id=DOMAIN_ID, logical_id="DomainImages"), "SUCCESS", DOMAIN_ID)

    # 6. A Create refused as bad input fails at once, under an id crhelper makes up ...
    bad = cfn.props("space", cfn.entry("SpaceSettings", "CodeEditor"))
    refused = cfn.event("Create", bad, logical_id="BrokenImages")
    body = cfn.send(refused)
    sent.append(refused)
    assert GENERATED_ID.fullmatch(body["PhysicalResourceId"])
    reason = "CustomImages[0].AppType 'CodeEditor' has no CustomImages in SpaceSettings: use KernelGateway"
    assert body == cfn.expected(refused, "FAILED", body["PhysicalResourceId"], reason)

    # ... and the rollback Delete of that id succeeds without calling SageMaker.
    calls = len(operations)
    step(
        cfn.event("Delete", bad, physical_id=body["PhysicalResourceId"], logical_id="BrokenImages"),
        "SUCCESS",
        body["PhysicalResourceId"],
    )
    assert len(operations) == calls

    # The stack is gone, and so is every ledger record it wrote (the failed Create's included).
    assert ssm.names() == []

    # Every response went to its own pre-signed URL; none of those URLs reached the logs.
    assert_answered_without_leaks(sent, cfn_endpoint, caplog, cfn.index.__name__, crhelper_sleeps)


def test_cold_start_builds_no_client_until_a_call_needs_one(index, shared, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("AWS_SAM_LOCAL", raising=False)
    own = ["studio_entries", "studio_write", "studio_ledger", "studio_reconcile", "studio_legacy"]
    for name in ["custom_resource", *own]:  # the handler's modules beside index.py; put back after the test
        monkeypatch.delitem(sys.modules, name)
    spec = importlib.util.spec_from_file_location("studio_custom_images_cold", index.__file__)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    fresh_shared = sys.modules["custom_resource"]
    assert fresh_shared is not shared and fresh_shared.SAGEMAKER is None and fresh_shared.SSM is None
    assert "AWS_SAM_LOCAL" not in os.environ
    for polling_client in ("_lambda_client", "_events_client", "_logs_client"):
        assert not hasattr(module.helper, polling_client)
    entries, ledger = sys.modules["studio_entries"], sys.modules["studio_ledger"]
    assert entries.sagemaker() is fresh_shared.SAGEMAKER is entries.sagemaker()
    assert ledger.ssm() is fresh_shared.SSM is ledger.ssm()


def test_a_client_that_cannot_be_built_is_a_failed_answer(cfn, shared, monkeypatch: pytest.MonkeyPatch):
    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("no endpoint for this partition")

    monkeypatch.setattr(shared, "SAGEMAKER", None)
    monkeypatch.setattr(shared.boto3, "client", broken)
    body = cfn.send(cfn.event("Create", cfn.props()))

    assert body["Status"] == "FAILED" and body["Reason"] == "no endpoint for this partition"
