"""Deletes of 0.2.0's per-attachment ``Custom::SageMakerStudioCustomImage`` resources, which CloudFormation
sends this function when a stack upgrades (after the new per-target resources were created).

One entry per resource; its id ``<domain>/<DefaultUserSettings|DefaultSpaceSettings|user-profile/p|
space/s>/<AppType>/<ImageName>`` names the place, its properties the config and the version. It is
detached only when no ledger record on the target declares its key and it is still listed as written.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

HANDLER = "studio_custom_images"  # conftest: index, sagemaker and cfn follow this handler

DOMAIN = "d-abc123xyz"
DOMAIN_ID = f"{DOMAIN}/domain"
STACK = (
    "arn:aws:cloudformation:us-east-1:123456789012:stack/images-stack/6c0a4e70-1f2b-11ef-9d3e-0a1b2c3d4e5f"
)
TEAM_STACK = (
    "arn:aws:cloudformation:us-east-1:123456789012:stack/team-stack/0f0e0d0c-0000-4000-8000-000000000001"
)
SPEC = {"InstanceType": "ml.t3.medium"}
OTHER = {"ImageName": "team-image", "AppImageConfigName": "team-config", "ImageVersionNumber": 2}
LEGACY = "Custom::SageMakerStudioCustomImage"


def listed(image: str = "my-image", config: str = "my-config", version: int | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"ImageName": image, "AppImageConfigName": config}
    if version is not None:
        entry["ImageVersionNumber"] = version
    return entry


def kg(*images: dict[str, Any]) -> dict[str, Any]:
    return {"KernelGatewayAppSettings": {"DefaultResourceSpec": SPEC, "CustomImages": list(images)}}


def legacy_props(
    image: str = "my-image", config: str = "my-config", version: str | None = None, **target: str
) -> dict[str, Any]:
    """0.2.0's properties, as CloudFormation sends them."""
    props = {
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:studio",
        "DomainId": DOMAIN,
        **(target or {"Settings": "DefaultUserSettings"}),
        "AppType": "KernelGateway",
        "ImageName": image,
        "AppImageConfigName": config,
    }
    if version is not None:
        props["ImageVersionNumber"] = version
    return props


def legacy_delete(cfn: Any, physical_id: str, props: dict[str, Any], logical_id: str) -> dict[str, Any]:
    event = cfn.event("Delete", props, physical_id=physical_id, logical_id=logical_id)
    event["ResourceType"] = LEGACY
    return event


def test_an_upgrade_keeps_the_entries_still_declared_and_detaches_those_it_removed(
    cfn, sagemaker, ssm, operations, caplog
):
    """0.2.0 listed A (pinned 3) and B; the upgrade's template declares A only, in one per-target
    resource. Its Create finds A as wanted (no write); the clean-up keeps A and detaches B."""
    caplog.set_level(logging.INFO)
    before = {"DefaultUserSettings": kg(OTHER, listed(version=3), listed("b-image", "b-config"))}
    sagemaker.describe("domain", **before)
    create = cfn.event("Create", cfn.props("domain", cfn.entry(version=3)))
    assert cfn.send(create)["Status"] == "SUCCESS"
    assert operations == ["DescribeDomain"]

    kept_id = f"{DOMAIN}/DefaultUserSettings/KernelGateway/my-image"
    kept = legacy_delete(cfn, kept_id, legacy_props(version="3"), "AttachA1B2C3D4")
    assert cfn.send(kept) == cfn.expected(kept, "SUCCESS", kept_id)
    assert operations == ["DescribeDomain"]  # nothing called for it
    assert (
        f"legacy 0.2.0 per-attachment resource {kept_id}: kept: declared by stack 'images-stack'"
        " (resource 'StudioImages')" in caplog.text
    )

    gone_id = f"{DOMAIN}/DefaultUserSettings/KernelGateway/b-image"
    sagemaker.describe("domain", **before)
    sagemaker.update("domain", {"DefaultUserSettings": kg(OTHER, listed(version=3))})
    sagemaker.describe("domain", DefaultUserSettings=kg(OTHER, listed(version=3)))
    gone = legacy_delete(cfn, gone_id, legacy_props("b-image", "b-config"), "AttachB1B2C3D4")
    assert cfn.send(gone) == cfn.expected(gone, "SUCCESS", gone_id)
    assert f"legacy 0.2.0 per-attachment resource {gone_id}: detached" in caplog.text
    assert "failed Create" not in caplog.text
    assert ssm.operations == ["GetParametersByPath", "PutParameter"] + ["GetParametersByPath"] * 2
    sagemaker.done()


def test_a_key_declared_by_another_stack_is_kept_too(cfn, sagemaker, ssm, operations, caplog):
    caplog.set_level(logging.INFO)
    ssm.seed(
        f"{DOMAIN}/user-profile/alice",
        TEAM_STACK,
        "TeamImages",
        [{"Settings": "UserSettings", "AppType": "KernelGateway", **listed(config="their-config")}],
    )
    physical_id = f"{DOMAIN}/user-profile/alice/KernelGateway/my-image"
    event = legacy_delete(cfn, physical_id, legacy_props(UserProfileName="alice"), "Attach")

    assert cfn.send(event)["Status"] == "SUCCESS"
    assert operations == []
    assert "kept: declared by stack 'team-stack' (resource 'TeamImages')" in caplog.text
    sagemaker.done()


@pytest.mark.parametrize(
    ("physical_id", "kind", "settings", "props"),
    [
        (f"{DOMAIN}/DefaultSpaceSettings/KernelGateway/my-image", "domain", "DefaultSpaceSettings", {}),
        (
            f"{DOMAIN}/user-profile/alice/KernelGateway/my-image",
            "profile",
            "UserSettings",
            {"UserProfileName": "alice"},
        ),
        (
            f"{DOMAIN}/space/team-space/KernelGateway/my-image",
            "space",
            "SpaceSettings",
            {"SpaceName": "team-space"},
        ),
    ],
    ids=["default-space-settings", "user-profile", "space"],
)
def test_every_0_2_0_target_form_is_detached_from_its_own_settings(
    cfn, sagemaker, ssm, physical_id, kind, settings, props
):
    target = props or {"Settings": "DefaultSpaceSettings"}
    sagemaker.describe(kind, **{settings: kg(OTHER, listed(version=5))})
    sagemaker.update(kind, {settings: kg(OTHER)})
    sagemaker.describe(kind, **{settings: kg(OTHER)})

    event = legacy_delete(cfn, physical_id, legacy_props(version="5", **target), "Attach")

    assert cfn.send(event)["Status"] == "SUCCESS"
    sagemaker.done()


@pytest.mark.parametrize(
    "shown",
    [listed(config="changed-config", version=3), listed(version=4), listed(image="other-image", version=3)],
    ids=["other-config", "other-version", "not-listed"],
)
def test_an_entry_changed_since_is_left_alone(cfn, sagemaker, ssm, operations, caplog, shown):
    caplog.set_level(logging.INFO)
    sagemaker.describe("domain", DefaultUserSettings=kg(OTHER, shown))
    physical_id = f"{DOMAIN}/DefaultUserSettings/KernelGateway/my-image"

    assert (
        cfn.send(legacy_delete(cfn, physical_id, legacy_props(version="3"), "Attach"))["Status"] == "SUCCESS"
    )
    assert operations == ["DescribeDomain"]
    assert "not listed as it wrote it (changed since, or gone): nothing to detach" in caplog.text
    sagemaker.done()


@pytest.mark.parametrize(
    "props",
    [{"AppImageConfigName": None}, {"ImageVersionNumber": "zero"}],
    ids=["no-config", "bad-version"],
)
def test_properties_that_name_no_entry_call_nothing(cfn, sagemaker, ssm, operations, caplog, props):
    caplog.set_level(logging.INFO)
    physical_id = f"{DOMAIN}/DefaultUserSettings/KernelGateway/my-image"
    given = {k: v for k, v in {**legacy_props(), **props}.items() if v is not None}

    assert cfn.send(legacy_delete(cfn, physical_id, given, "Attach"))["Status"] == "SUCCESS"
    assert operations == [] and ssm.operations == []
    assert "its properties name no entry: nothing to detach" in caplog.text
    sagemaker.done()


def test_a_target_gone_is_success(cfn, sagemaker, ssm):
    sagemaker.fails("describe", "space", "ResourceNotFound", "Cannot find the resource.")
    physical_id = f"{DOMAIN}/space/team-space/KernelGateway/my-image"
    event = legacy_delete(cfn, physical_id, legacy_props(SpaceName="team-space"), "Attach")

    assert cfn.send(event) == cfn.expected(event, "SUCCESS", physical_id)
    sagemaker.done()


@pytest.mark.parametrize(
    ("physical_id", "failed_create"),
    [
        ("images-stack_StudioImages_Q7W3ZK1P", True),  # what crhelper makes up for a failed Create
        ("images-stack_OtherResource_Q7W3ZK1P", False),  # another resource's
        ("d-abc123xyz/domain/extra", False),
        ("d-abc123xyz/DefaultUserSettings/RSessionGateway/my-image", False),
        ("", False),
    ],
)
def test_an_id_of_neither_form_calls_nothing_and_says_what_it_is(
    cfn, sagemaker, ssm, operations, caplog, physical_id, failed_create
):
    caplog.set_level(logging.INFO)
    event = cfn.event("Delete", cfn.props(), physical_id=physical_id)

    assert cfn.send(event)["Status"] == "SUCCESS"
    assert operations == [] and ssm.operations == []
    assert "not ours" in caplog.text
    assert ("a failed Create's" in caplog.text) is failed_create
    sagemaker.done()
