"""Unit tests of the Studio custom-image custom resource, one per behaviour, SageMaker stubbed.

Each test queues the exact SageMaker calls the behaviour requires (the Stubber checks order, and params
against botocore's real model) and asserts the response crhelper PUT to the (local HTTPS) ResponseURL.
Target kinds: "domain" (DefaultUserSettings), "default-space" (the domain's DefaultSpaceSettings),
"profile" (a user profile's UserSettings), "space" (a space's SpaceSettings).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

HANDLER = "studio_custom_images"  # conftest: index, sagemaker and cfn follow this handler

DOMAIN = "d-abc123xyz"
IMAGE = "my-image"
CONFIG = "my-config"
GENERATED_ID = re.compile(r"images-stack_StudioImage_[A-Z0-9]{8}")  # crhelper's id for a failed Create
SPEC = {"InstanceType": "ml.t3.medium", "SageMakerImageArn": "arn:aws:sagemaker:us-east-1:123:image/base"}
OTHER = {"ImageName": "team-image", "AppImageConfigName": "team-config", "ImageVersionNumber": 2}
LATER = {"ImageName": "later-image", "AppImageConfigName": "later-config"}
DOMAIN_ID = f"{DOMAIN}/DefaultUserSettings/KernelGateway/{IMAGE}"
SETTINGS_OF = {
    "domain": "DefaultUserSettings",
    "default-space": "DefaultSpaceSettings",
    "profile": "UserSettings",
    "space": "SpaceSettings",
}
# Every target kind with every app type SageMaker has CustomImages for there (botocore's model).
VALID = [
    ("domain", "KernelGateway"),
    ("domain", "JupyterLab"),
    ("domain", "CodeEditor"),
    ("default-space", "KernelGateway"),
    ("default-space", "JupyterLab"),
    ("profile", "KernelGateway"),
    ("profile", "JupyterLab"),
    ("profile", "CodeEditor"),
    ("space", "KernelGateway"),
]


def entry(image: str = IMAGE, config: str = CONFIG, version: int | None = None) -> dict[str, Any]:
    listed: dict[str, Any] = {"ImageName": image, "AppImageConfigName": config}
    if version is not None:
        listed["ImageVersionNumber"] = version
    return listed


def app(*images: dict[str, Any]) -> dict[str, Any]:
    """An AppSettings object as Describe* returns it: a resource spec and the listed images."""
    return {"DefaultResourceSpec": SPEC, "CustomImages": list(images)}


def rmw(
    sagemaker: Any,
    kind: str,
    app_type: str,
    before: dict[str, Any] | None,
    after: dict[str, Any],
    domain: str = DOMAIN,
) -> None:
    """Queue one read-modify-write: Describe (InService), Update with ``after``, Describe (InService)."""
    settings = {} if before is None else {f"{app_type}AppSettings": before}
    sagemaker.describe(kind, settings=settings, domain=domain)
    sagemaker.update(kind, app_type, after, domain=domain)
    sagemaker.describe(kind, settings={f"{app_type}AppSettings": after}, domain=domain)


# --- Create: every target kind and app type ---------------------------------------------------------


@pytest.mark.parametrize(("kind", "app_type"), VALID)
def test_create_appends_the_entry_and_keeps_the_others(cfn, sagemaker, kind, app_type):
    rmw(sagemaker, kind, app_type, app(OTHER), app(OTHER, entry(version=3)))
    event = cfn.event("Create", cfn.props(kind, app_type=app_type, version=3))

    assert cfn.send(event) == cfn.expected(event, "SUCCESS", cfn.physical_id(kind, app_type))
    sagemaker.done()


@pytest.mark.parametrize(
    ("kind", "app_type", "physical_id"),
    [
        ("domain", "JupyterLab", "d-abc123xyz/DefaultUserSettings/JupyterLab/my-image"),
        ("default-space", "KernelGateway", "d-abc123xyz/DefaultSpaceSettings/KernelGateway/my-image"),
        ("profile", "CodeEditor", "d-abc123xyz/user-profile/alice/CodeEditor/my-image"),
        ("space", "KernelGateway", "d-abc123xyz/space/team-space/KernelGateway/my-image"),
    ],
)
def test_physical_id_is_domain_target_app_type_and_image(cfn, sagemaker, kind, app_type, physical_id):
    rmw(sagemaker, kind, app_type, None, {"CustomImages": [entry()]})
    event = cfn.event("Create", cfn.props(kind, app_type=app_type))

    assert cfn.send(event)["PhysicalResourceId"] == physical_id
    sagemaker.done()


def test_create_without_app_settings_writes_only_custom_images(cfn, sagemaker):
    """Nothing read for the app: the object written holds the one list, no made-up defaults."""
    rmw(sagemaker, "profile", "JupyterLab", None, {"CustomImages": [entry()]})
    event = cfn.event("Create", cfn.props("profile", app_type="JupyterLab"))

    assert cfn.send(event)["Status"] == "SUCCESS"
    sagemaker.done()


def test_explicit_default_user_settings_is_the_default_target(cfn, sagemaker):
    rmw(sagemaker, "domain", "KernelGateway", app(), app(entry()))
    event = cfn.event("Create", cfn.props(Settings="DefaultUserSettings"))

    assert cfn.send(event) == cfn.expected(event, "SUCCESS", DOMAIN_ID)
    sagemaker.done()


def test_create_without_version_writes_no_version_number(cfn, sagemaker):
    rmw(sagemaker, "domain", "KernelGateway", app(OTHER), app(OTHER, entry()))
    event = cfn.event("Create", cfn.props())

    assert cfn.send(event)["Status"] == "SUCCESS"
    sagemaker.done()


def test_create_replaces_an_entry_of_the_same_image_in_place(cfn, sagemaker):
    old = entry(config="hand-made", version=1)
    rmw(sagemaker, "domain", "KernelGateway", app(OTHER, old, LATER), app(OTHER, entry(version=4), LATER))
    event = cfn.event("Create", cfn.props(version=4))

    assert cfn.send(event) == cfn.expected(event, "SUCCESS", DOMAIN_ID)
    sagemaker.done()


def test_create_leaves_other_app_types_and_the_other_settings_alone(cfn, sagemaker):
    """Our image already listed for JupyterLab and in DefaultSpaceSettings: only KernelGateway changes."""
    elsewhere = {"JupyterLabAppSettings": app(entry(config="lab-config"))}
    sagemaker.describe(
        "domain",
        settings={"KernelGatewayAppSettings": app(OTHER), **elsewhere},
        DefaultSpaceSettings={"KernelGatewayAppSettings": app(entry(config="space-config"))},
    )
    sagemaker.update("domain", "KernelGateway", app(OTHER, entry()))
    sagemaker.describe("domain", settings={"KernelGatewayAppSettings": app(OTHER, entry()), **elsewhere})
    event = cfn.event("Create", cfn.props())

    assert cfn.send(event)["Status"] == "SUCCESS"
    sagemaker.done()


def test_retried_create_with_the_entry_in_place_writes_nothing(cfn, sagemaker, operations):
    sagemaker.describe("domain", settings={"KernelGatewayAppSettings": app(OTHER, entry(version=3))})
    event = cfn.event("Create", cfn.props(version=3))

    assert cfn.send(event) == cfn.expected(event, "SUCCESS", DOMAIN_ID)
    assert operations == ["DescribeDomain"]
    sagemaker.done()


def test_duplicate_entries_of_our_image_collapse_into_ours(cfn, sagemaker):
    dupes = app(entry(config="a"), OTHER, entry(config="b"))
    rmw(sagemaker, "domain", "KernelGateway", dupes, app(entry(), OTHER))
    event = cfn.event("Create", cfn.props())

    assert cfn.send(event)["Status"] == "SUCCESS"
    sagemaker.done()


# --- The update request carries nothing but the one AppSettings object --------------------------------

ROLE = "arn:aws:iam::123456789012:role/StudioExecution"
RICH_APP = {
    "DefaultResourceSpec": SPEC,
    "CustomImages": [OTHER],
    "LifecycleConfigArns": ["arn:aws:sagemaker:us-east-1:123456789012:studio-lifecycle-config/lcc"],
}
RICH = {
    "DefaultUserSettings": {
        "ExecutionRole": ROLE,
        "SecurityGroups": ["sg-0123456789abcdef0"],
        "SharingSettings": {"NotebookOutputOption": "Disabled"},
        "JupyterServerAppSettings": {"DefaultResourceSpec": SPEC},
        "KernelGatewayAppSettings": RICH_APP,
        "JupyterLabAppSettings": {
            **RICH_APP,
            "CodeRepositories": [{"RepositoryUrl": "https://example.com/repo.git"}],
            "AppLifecycleManagement": {
                "IdleSettings": {"LifecycleManagement": "ENABLED", "IdleTimeoutInMinutes": 60}
            },
            "EmrSettings": {"AssumableRoleArns": ["arn:aws:iam::123456789012:role/Emr"]},
        },
        "CodeEditorAppSettings": {**RICH_APP, "BuiltInLifecycleConfigArn": "arn:aws:sagemaker:x:1:lcc/b"},
        "DefaultLandingUri": "studio::",
        "StudioWebPortal": "ENABLED",
    },
    "DefaultSpaceSettings": {
        "ExecutionRole": ROLE,
        "SecurityGroups": ["sg-0123456789abcdef0"],
        "KernelGatewayAppSettings": RICH_APP,
        "JupyterLabAppSettings": RICH_APP,
    },
    "SpaceSettings": {
        "AppType": "JupyterLab",
        "KernelGatewayAppSettings": RICH_APP,
        "JupyterLabAppSettings": {"DefaultResourceSpec": SPEC},
        "SpaceStorageSettings": {"EbsStorageSettings": {"EbsVolumeSizeInGb": 5}},
    },
}


@pytest.fixture
def requests(index: Any) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Every request's operation and params, as the client is about to serialize them."""
    seen: list[tuple[str, dict[str, Any]]] = []

    def record(model: Any, params: dict[str, Any], **_: Any) -> None:
        seen.append((model.name, json.loads(json.dumps(params))))

    events = index.sagemaker().meta.events
    events.register("before-parameter-build.sagemaker", record, unique_id="test-record-requests")
    try:
        yield seen
    finally:
        events.unregister("before-parameter-build.sagemaker", unique_id="test-record-requests")


@pytest.mark.parametrize(("kind", "app_type"), VALID)
def test_the_update_request_carries_only_the_one_app_settings_object(
    cfn, sagemaker, requests, kind, app_type
):
    settings_key = SETTINGS_OF[kind]
    rich = RICH["DefaultUserSettings" if kind == "profile" else settings_key]  # UserSettings: same shape
    written = {**rich[f"{app_type}AppSettings"], "CustomImages": [OTHER, entry(version=5)]}
    other = {"domain": "DefaultSpaceSettings", "default-space": "DefaultUserSettings"}.get(kind)
    extra = {other: RICH[other]} if other else {}
    sagemaker.describe(kind, settings=rich, **extra)
    sagemaker.update(kind, app_type, written)
    sagemaker.describe(kind, settings=rich, **extra)
    event = cfn.event("Create", cfn.props(kind, app_type=app_type, version=5))

    assert cfn.send(event)["Status"] == "SUCCESS"
    (update,) = [params for name, params in requests if name.startswith("Update")]
    names = {"profile": ["UserProfileName"], "space": ["SpaceName"]}.get(kind, [])
    assert sorted(update) == sorted(["DomainId", *names, settings_key])
    assert update[settings_key] == {f"{app_type}AppSettings": written}  # as read, CustomImages changed
    assert ROLE not in json.dumps(update) and "ExecutionRole" not in json.dumps(update)  # no iam:PassRole
    sagemaker.done()


# --- Update and replacement ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ({"version": 3}, {"version": 4}),
        ({"version": 3}, {"version": None}),
        ({"config": CONFIG}, {"config": "new-config"}),
    ],
    ids=["new-version", "version-dropped", "new-config"],
)
def test_update_with_the_same_id_replaces_our_entry(cfn, sagemaker, old, new):
    before = entry(**{"version": None, "config": CONFIG, **old})
    after = entry(**{"version": None, "config": CONFIG, **new})
    rmw(sagemaker, "domain", "KernelGateway", app(OTHER, before), app(OTHER, after))
    event = cfn.event("Update", cfn.props(**new), physical_id=DOMAIN_ID, old=cfn.props(**old))

    assert cfn.send(event) == cfn.expected(event, "SUCCESS", DOMAIN_ID)
    sagemaker.done()


@pytest.mark.parametrize(
    ("change", "kind", "app_type", "image"),
    [
        ({"app_type": "JupyterLab"}, "domain", "JupyterLab", IMAGE),
        ({"image": "new-image"}, "domain", "KernelGateway", "new-image"),
        ({"Settings": "DefaultSpaceSettings"}, "default-space", "KernelGateway", IMAGE),
    ],
    ids=["app-type", "image", "settings"],
)
def test_a_changed_id_is_a_replacement_and_the_old_delete_detaches(
    cfn, sagemaker, change, kind, app_type, image
):
    old_props = cfn.props(version=3)
    new_id = cfn.physical_id(kind, app_type, image)
    assert new_id != DOMAIN_ID
    mine = entry(image=image, version=3)
    rmw(sagemaker, kind, app_type, app(OTHER), app(OTHER, mine))
    update = cfn.event("Update", cfn.props(version=3, **change), physical_id=DOMAIN_ID, old=old_props)
    assert cfn.send(update) == cfn.expected(update, "SUCCESS", new_id)
    sagemaker.done()

    # CloudFormation then deletes the old resource: our entry goes from the old place only.
    rmw(sagemaker, "domain", "KernelGateway", app(OTHER, entry(version=3)), app(OTHER))
    delete = cfn.event("Delete", old_props, physical_id=DOMAIN_ID)
    assert cfn.send(delete) == cfn.expected(delete, "SUCCESS", DOMAIN_ID)
    sagemaker.done()


def test_a_move_to_another_target_writes_there_only(cfn, sagemaker, operations):
    rmw(sagemaker, "profile", "JupyterLab", app(), app(entry()))
    event = cfn.event(
        "Update", cfn.props("profile", app_type="JupyterLab"), physical_id=DOMAIN_ID, old=cfn.props()
    )

    assert cfn.send(event)["PhysicalResourceId"] == "d-abc123xyz/user-profile/alice/JupyterLab/my-image"
    assert operations == ["DescribeUserProfile", "UpdateUserProfile", "DescribeUserProfile"]
    sagemaker.done()


def test_update_to_another_domain_is_a_replacement(cfn, sagemaker):
    rmw(sagemaker, "domain", "KernelGateway", app(), app(entry()), domain="d-other1")
    event = cfn.event("Update", cfn.props(domain="d-other1"), physical_id=DOMAIN_ID, old=cfn.props())

    assert cfn.send(event)["PhysicalResourceId"] == "d-other1/DefaultUserSettings/KernelGateway/my-image"
    sagemaker.done()


def test_bad_input_on_update_fails_and_keeps_the_old_id(cfn, sagemaker, operations):
    event = cfn.event("Update", cfn.props(version="zero"), physical_id=DOMAIN_ID, old=cfn.props())

    body = cfn.send(event)

    assert body["Status"] == "FAILED" and body["PhysicalResourceId"] == DOMAIN_ID
    assert "'zero'" in body["Reason"]
    assert operations == []
    sagemaker.done()


# --- Delete ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "app_type"), VALID)
def test_delete_removes_our_entry_and_keeps_the_others(cfn, sagemaker, kind, app_type):
    rmw(sagemaker, kind, app_type, app(OTHER, entry(version=3), LATER), app(OTHER, LATER))
    physical_id = cfn.physical_id(kind, app_type)
    event = cfn.event("Delete", cfn.props(kind, app_type=app_type, version=3), physical_id=physical_id)

    assert cfn.send(event) == cfn.expected(event, "SUCCESS", physical_id)
    sagemaker.done()


def test_delete_of_the_last_entry_writes_an_empty_list(cfn, sagemaker):
    rmw(sagemaker, "domain", "KernelGateway", app(entry()), app())
    event = cfn.event("Delete", cfn.props(), physical_id=DOMAIN_ID)

    assert cfn.send(event)["Status"] == "SUCCESS"
    sagemaker.done()


@pytest.mark.parametrize(
    ("listed", "props"),
    [
        (entry(config="changed-config", version=3), {"version": 3}),
        (entry(version=4), {"version": 3}),
        (entry(version=3), {}),  # we wrote no version; someone pinned one since
        (entry(), {"version": 3}),
        (entry(image="other-name", version=3), {"version": 3}),
    ],
    ids=["other-config", "other-version", "pinned-since", "unpinned-since", "not-listed"],
)
def test_delete_leaves_an_entry_changed_since(cfn, sagemaker, operations, listed, props):
    sagemaker.describe("domain", settings={"KernelGatewayAppSettings": app(OTHER, listed)})
    event = cfn.event("Delete", cfn.props(**props), physical_id=DOMAIN_ID)

    assert cfn.send(event) == cfn.expected(event, "SUCCESS", DOMAIN_ID)
    assert operations == ["DescribeDomain"]
    sagemaker.done()


def test_delete_with_no_app_settings_writes_nothing(cfn, sagemaker, operations):
    sagemaker.describe("domain", settings={"JupyterLabAppSettings": app(entry())})
    event = cfn.event("Delete", cfn.props(), physical_id=DOMAIN_ID)

    assert cfn.send(event)["Status"] == "SUCCESS"
    assert operations == ["DescribeDomain"]
    sagemaker.done()


@pytest.mark.parametrize("kind", ["domain", "default-space", "profile", "space"])
def test_delete_of_a_missing_target_succeeds(cfn, sagemaker, kind):
    sagemaker.fails("describe", kind, "ResourceNotFound", "Cannot find the resource.")
    physical_id = cfn.physical_id(kind)
    event = cfn.event("Delete", cfn.props(kind), physical_id=physical_id)

    assert cfn.send(event) == cfn.expected(event, "SUCCESS", physical_id)
    sagemaker.done()


def test_delete_succeeds_when_the_target_vanishes_before_the_write(cfn, sagemaker):
    sagemaker.describe("space", settings={"KernelGatewayAppSettings": app(entry())})
    params = sagemaker.update_params("space", "KernelGateway", app())
    sagemaker.fails("update", "space", "ResourceNotFound", "Space does not exist", params)
    physical_id = cfn.physical_id("space")
    event = cfn.event("Delete", cfn.props("space"), physical_id=physical_id)

    assert cfn.send(event) == cfn.expected(event, "SUCCESS", physical_id)
    sagemaker.done()


def test_delete_of_a_target_being_deleted_succeeds_without_writing(cfn, sagemaker, operations):
    sagemaker.describe("profile", status="Deleting", settings={"KernelGatewayAppSettings": app(entry())})
    physical_id = cfn.physical_id("profile")
    event = cfn.event("Delete", cfn.props("profile"), physical_id=physical_id)

    assert cfn.send(event) == cfn.expected(event, "SUCCESS", physical_id)
    assert operations == ["DescribeUserProfile"]
    sagemaker.done()


def test_delete_waits_for_a_busy_target_before_writing(cfn, sagemaker, clock):
    sagemaker.describe("domain", status="Updating", settings={"KernelGatewayAppSettings": app(entry())})
    rmw(sagemaker, "domain", "KernelGateway", app(entry()), app())
    event = cfn.event("Delete", cfn.props(), physical_id=DOMAIN_ID)

    assert cfn.send(event)["Status"] == "SUCCESS"
    assert clock.sleeps == [2.0]
    sagemaker.done()


def test_delete_from_a_failed_target_fails_only_if_it_must_write(cfn, sagemaker):
    sagemaker.describe("domain", status="Update_Failed", settings={"KernelGatewayAppSettings": app(OTHER)})
    nothing_to_do = cfn.event("Delete", cfn.props(), physical_id=DOMAIN_ID)
    assert cfn.send(nothing_to_do)["Status"] == "SUCCESS"

    sagemaker.describe(
        "domain",
        status="Update_Failed",
        failure="Bad VPC",
        settings={"KernelGatewayAppSettings": app(entry())},
    )
    must_write = cfn.event("Delete", cfn.props(), physical_id=DOMAIN_ID)
    body = cfn.send(must_write)
    assert body == cfn.expected(
        must_write,
        "FAILED",
        DOMAIN_ID,
        "Domain 'd-abc123xyz' is 'Update_Failed' before the update, not InService: Bad VPC",
    )
    sagemaker.done()


def test_rollback_delete_of_a_failed_create_calls_nothing(cfn, sagemaker, operations, crhelper_sleeps):
    generated = "images-stack_StudioImage_Q7W3ZK1P"
    event = cfn.event("Delete", cfn.props(), physical_id=generated)

    started = time.monotonic()
    body = cfn.send(event, remaining_ms=900_000)  # crhelper's default would sleep 120 s here

    assert body == cfn.expected(event, "SUCCESS", generated)
    assert operations == [] and crhelper_sleeps == []
    assert time.monotonic() - started < 10
    sagemaker.done()


@pytest.mark.parametrize(
    "physical_id",
    [
        "d-abc123xyz/UserSettings/KernelGateway/my-image",
        "d-abc123xyz/DefaultUserSettings/RStudio/my-image",
        "d-abc123xyz/space/team-space/KernelGateway/my-image/extra",
        "D-ABC/DefaultUserSettings/KernelGateway/my-image",
        "my-image/3/aliases",
        "",
    ],
)
def test_delete_of_an_id_not_of_our_form_calls_nothing(cfn, sagemaker, operations, physical_id):
    event = cfn.event("Delete", cfn.props(), physical_id=physical_id)

    assert cfn.send(event)["Status"] == "SUCCESS"
    assert operations == []
    sagemaker.done()


def test_delete_whose_properties_no_longer_parse_calls_nothing(cfn, sagemaker, operations):
    event = cfn.event("Delete", cfn.props(version="zero"), physical_id=DOMAIN_ID)

    assert cfn.send(event)["Status"] == "SUCCESS"
    assert operations == []
    sagemaker.done()


def test_delete_takes_the_target_from_the_id_and_the_entry_from_the_properties(cfn, sagemaker):
    physical_id = "d-zzz9/user-profile/bob/CodeEditor/id-image"
    sagemaker.stubber.add_response(
        "describe_user_profile",
        {
            "Status": "InService",
            "UserSettings": {"CodeEditorAppSettings": app(entry(image="id-image", config="c1", version=9))},
        },
        {"DomainId": "d-zzz9", "UserProfileName": "bob"},
    )
    sagemaker.stubber.add_response(
        "update_user_profile",
        {},
        {"DomainId": "d-zzz9", "UserProfileName": "bob", "UserSettings": {"CodeEditorAppSettings": app()}},
    )
    sagemaker.stubber.add_response(
        "describe_user_profile", {"Status": "InService"}, {"DomainId": "d-zzz9", "UserProfileName": "bob"}
    )
    event = cfn.event("Delete", cfn.props(config="c1", version=9), physical_id=physical_id)

    assert cfn.send(event) == cfn.expected(event, "SUCCESS", physical_id)
    sagemaker.done()


# --- Status waits -----------------------------------------------------------------------------------------


def test_create_waits_for_in_service_before_and_after_the_write(cfn, sagemaker, clock):
    settings = {"KernelGatewayAppSettings": app(OTHER)}
    sagemaker.describe("domain", status="Pending", settings=settings)
    sagemaker.describe("domain", status="Updating", settings=settings)
    sagemaker.describe("domain", settings=settings)
    sagemaker.update("domain", "KernelGateway", app(OTHER, entry()))
    sagemaker.describe("domain", status="Updating")
    sagemaker.describe("domain")
    event = cfn.event("Create", cfn.props())

    assert cfn.send(event) == cfn.expected(event, "SUCCESS", DOMAIN_ID)
    assert clock.sleeps == [2.0, 4.0, 2.0]
    sagemaker.done()


def test_the_wait_gives_up_within_the_lambda_time_left(cfn, sagemaker, clock):
    for _ in range(5):  # 60 s left minus the 30 s margin: sleeps 2, 4, 8, 15; another 15 would overrun
        sagemaker.describe("space", status="Updating")
    event = cfn.event("Create", cfn.props("space"))

    body = cfn.send(event, remaining_ms=60_000)

    reason = (
        "Space 'team-space' of domain 'd-abc123xyz' is still Updating after 29 s:"
        " gave up waiting for InService"
    )
    assert body == cfn.expected(event, "FAILED", body["PhysicalResourceId"], reason)
    assert GENERATED_ID.fullmatch(body["PhysicalResourceId"])
    assert clock.sleeps == [2.0, 4.0, 8.0, 15.0]
    sagemaker.done()


def test_the_wait_is_capped_however_long_the_function_may_run(cfn, sagemaker, clock, index):
    assert index.MAX_SECONDS == 600
    polls = 3 + (600 - 14) // 15 + 1  # after 2, 4, 8 s, every 15 s until 599 s
    for _ in range(polls):
        sagemaker.describe("domain", status="Pending")
    event = cfn.event("Create", cfn.props())

    body = cfn.send(event, remaining_ms=900_000)

    assert body["Status"] == "FAILED" and "still Pending after 599 s" in body["Reason"]
    assert sum(clock.sleeps) == 599 and max(clock.sleeps) == index.MAX_POLL_SECONDS
    sagemaker.done()


@pytest.mark.parametrize("status", ["Failed", "Update_Failed", "Delete_Failed", "Deleting", "Unheard_Of"])
def test_create_on_a_target_not_in_service_fails_naming_the_status(cfn, sagemaker, status, operations):
    sagemaker.describe("profile", status=status, failure="Subnet gone", settings={})
    event = cfn.event("Create", cfn.props("profile"))

    body = cfn.send(event)

    assert body["Status"] == "FAILED"
    assert body["Reason"] == (
        f"User profile 'alice' of domain 'd-abc123xyz' is {status!r} before the update, not InService:"
        " Subnet gone"
    )
    assert operations == ["DescribeUserProfile"]
    sagemaker.done()


def test_a_write_that_leaves_the_target_update_failed_fails(cfn, sagemaker):
    sagemaker.describe("domain", settings={})
    sagemaker.update("domain", "KernelGateway", {"CustomImages": [entry()]})
    sagemaker.describe("domain", status="Update_Failed", failure="AppImageConfig my-config not found")
    event = cfn.event("Create", cfn.props())

    body = cfn.send(event)

    assert body["Status"] == "FAILED"
    assert body["Reason"] == (
        "Domain 'd-abc123xyz' is 'Update_Failed' after the update, not InService:"
        " AppImageConfig my-config not found"
    )
    sagemaker.done()


@pytest.mark.parametrize("kind", ["domain", "profile", "space"])
def test_create_on_a_missing_target_fails_naming_it(cfn, sagemaker, kind):
    sagemaker.fails("describe", kind, "ResourceNotFound", "Cannot find the resource.")
    body = cfn.send(cfn.event("Create", cfn.props(kind)))

    label = {
        "domain": "Domain 'd-abc123xyz'",
        "profile": "User profile 'alice' of domain 'd-abc123xyz'",
        "space": "Space 'team-space' of domain 'd-abc123xyz'",
    }[kind]
    assert body["Status"] == "FAILED"
    assert body["Reason"].startswith(f"{label} was not found: ") and "ResourceNotFound" in body["Reason"]
    sagemaker.done()


def test_an_unexpected_error_fails_naming_the_target_and_the_error(cfn, sagemaker):
    sagemaker.describe("domain", settings={})
    params = sagemaker.update_params("domain", "KernelGateway", {"CustomImages": [entry()]})
    sagemaker.fails("update", "domain", "ValidationException", "Image my-image does not exist.", params)
    body = cfn.send(cfn.event("Create", cfn.props()))

    assert body["Status"] == "FAILED"
    assert body["Reason"].startswith("Domain 'd-abc123xyz': An error occurred (ValidationException)")
    assert "Image my-image does not exist." in body["Reason"]
    sagemaker.done()


# --- ResourceInUse ------------------------------------------------------------------------------------------


def test_resource_in_use_reruns_the_whole_read_modify_write(cfn, sagemaker, clock):
    """The retry reads again: resending the first read would undo the change that made us wait."""
    sagemaker.describe("domain", settings={"KernelGatewayAppSettings": app(OTHER)})
    first = sagemaker.update_params("domain", "KernelGateway", app(OTHER, entry()))
    sagemaker.fails("update", "domain", "ResourceInUse", "Resource was modified concurrently", first)
    rmw(sagemaker, "domain", "KernelGateway", app(OTHER, LATER), app(OTHER, LATER, entry()))
    event = cfn.event("Create", cfn.props())

    assert cfn.send(event) == cfn.expected(event, "SUCCESS", DOMAIN_ID)
    (slept,) = clock.sleeps
    assert 0.5 <= slept <= 1.0
    sagemaker.done()


def test_resource_in_use_gives_up_after_max_attempts(cfn, sagemaker, clock, shared):
    params = sagemaker.update_params("profile", "KernelGateway", app(entry()))
    for _ in range(shared.MAX_ATTEMPTS):
        sagemaker.describe("profile", settings={"KernelGatewayAppSettings": app()})
        sagemaker.fails("update", "profile", "ResourceInUse", "Resource was modified concurrently", params)
    event = cfn.event("Create", cfn.props("profile"))

    body = cfn.send(event, remaining_ms=900_000)

    assert body["Status"] == "FAILED" and GENERATED_ID.fullmatch(body["PhysicalResourceId"])
    assert body["Reason"].startswith(
        f"User profile 'alice' of domain 'd-abc123xyz' still busy after {shared.MAX_ATTEMPTS} attempts: "
    )
    assert "ResourceInUse" in body["Reason"] and len(body["Reason"]) <= 256
    assert len(clock.sleeps) == shared.MAX_ATTEMPTS - 1
    sagemaker.done()


def test_resource_in_use_stops_before_the_lambda_deadline(cfn, sagemaker, clock, shared, monkeypatch):
    monkeypatch.setattr(shared.random, "uniform", lambda low, high: high)  # no jitter: delays 1, 2, 4, 8
    params = sagemaker.update_params("domain", "KernelGateway", app())
    for _ in range(4):  # 40 s left, 30 s margin: after sleeping 1+2+4 s, an 8 s sleep would overrun
        sagemaker.describe("domain", settings={"KernelGatewayAppSettings": app(entry())})
        sagemaker.fails("update", "domain", "ResourceInUse", "Resource was modified concurrently", params)
    event = cfn.event("Delete", cfn.props(), physical_id=DOMAIN_ID)

    body = cfn.send(event, remaining_ms=40_000)

    assert body["Status"] == "FAILED" and body["PhysicalResourceId"] == DOMAIN_ID
    assert "still busy after 4 attempts" in body["Reason"]
    assert clock.sleeps == [1.0, 2.0, 4.0]
    sagemaker.done()


# --- Bad input: refused before any call, the reason naming the value -------------------------------------


def _props(cfn: Any, kind: str = "domain", **change: Any) -> dict[str, Any]:
    """Studio props of a kind, changed; a None value removes the key."""
    props = cfn.props(kind)
    props.update(change)
    return {k: v for k, v in props.items() if v is not None}


BAD_INPUT = [
    pytest.param("domain", {"DomainId": None}, "DomainId is required", id="domain-missing"),
    pytest.param("domain", {"DomainId": "D-ABC"}, "DomainId 'D-ABC' is invalid", id="domain-upper"),
    pytest.param("domain", {"DomainId": "d-"}, "DomainId 'd-' is invalid", id="domain-empty-tail"),
    pytest.param("domain", {"DomainId": "d-ab_c"}, "'d-ab_c'", id="domain-underscore"),
    pytest.param("domain", {"DomainId": "d-abc\n"}, "'d-abc\\n'", id="domain-newline"),
    pytest.param("domain", {"DomainId": "d-" + "a" * 62}, "DomainId 'd-aaaa", id="domain-64-chars"),
    pytest.param("domain", {"DomainId": 123}, "DomainId 123 is invalid", id="domain-number"),
    pytest.param("profile", {"UserProfileName": "-alice"}, "UserProfileName '-alice'", id="profile-dash"),
    pytest.param(
        "profile", {"UserProfileName": "al_ice"}, "UserProfileName 'al_ice'", id="profile-underscore"
    ),
    pytest.param("profile", {"UserProfileName": ""}, "UserProfileName '' is invalid", id="profile-empty"),
    pytest.param("profile", {"UserProfileName": "a" * 64}, "UserProfileName 'aaaa", id="profile-64-chars"),
    pytest.param(
        "profile", {"UserProfileName": "a" + "-" * 62 + "b"}, "UserProfileName 'a---", id="profile-64-dashes"
    ),
    pytest.param("space", {"SpaceName": "team space"}, "SpaceName 'team space'", id="space-blank"),
    pytest.param("space", {"SpaceName": "tëam"}, "SpaceName 'tëam'", id="space-non-ascii"),
    pytest.param(
        "profile",
        {"SpaceName": "team-space"},
        "UserProfileName 'alice' and SpaceName 'team-space': give at most one",
        id="profile-and-space",
    ),
    pytest.param(
        "domain", {"Settings": "UserSettings"}, "Settings 'UserSettings' is invalid", id="settings-bad"
    ),
    pytest.param(
        "profile",
        {"Settings": "DefaultUserSettings"},
        "Settings 'DefaultUserSettings' is for a domain only, not with UserProfileName 'alice'",
        id="settings-with-profile",
    ),
    pytest.param(
        "space",
        {"Settings": "DefaultSpaceSettings"},
        "Settings 'DefaultSpaceSettings' is for a domain only, not with SpaceName 'team-space'",
        id="settings-with-space",
    ),
    pytest.param("domain", {"AppType": None}, "AppType None is invalid", id="app-type-missing"),
    pytest.param(
        "domain", {"AppType": "RStudioServerPro"}, "AppType 'RStudioServerPro'", id="app-type-other"
    ),
    pytest.param("domain", {"AppType": "jupyterlab"}, "AppType 'jupyterlab'", id="app-type-case"),
    pytest.param(
        "space",
        {"AppType": "JupyterLab"},
        "AppType 'JupyterLab' has no CustomImages with SpaceName 'team-space': only KernelGateway there",
        id="space-jupyterlab",
    ),
    pytest.param(
        "space", {"AppType": "CodeEditor"}, "AppType 'CodeEditor' has no CustomImages", id="space-code-editor"
    ),
    pytest.param(
        "default-space",
        {"AppType": "CodeEditor"},
        "AppType 'CodeEditor' has no CustomImages with Settings 'DefaultSpaceSettings':"
        " only KernelGateway, JupyterLab there",
        id="default-space-code-editor",
    ),
    pytest.param("domain", {"ImageName": None}, "ImageName is required", id="image-missing"),
    pytest.param("domain", {"ImageName": "my_image"}, "ImageName 'my_image'", id="image-underscore"),
    pytest.param("domain", {"ImageName": "a..b"}, "ImageName 'a..b'", id="image-double-dot"),
    pytest.param("domain", {"ImageName": "a" * 64}, "ImageName 'aaaa", id="image-64-chars"),
    pytest.param("domain", {"ImageName": "a-" * 32 + "a"}, "ImageName 'a-a-", id="image-65-with-dashes"),
    pytest.param("domain", {"DomainId": "d-a" + "-" * 60 + "b"}, "DomainId 'd-a---", id="domain-64-dashes"),
    pytest.param(
        "domain", {"AppImageConfigName": None}, "AppImageConfigName is required", id="config-missing"
    ),
    pytest.param(
        "domain", {"AppImageConfigName": "my.config"}, "AppImageConfigName 'my.config'", id="config-dot"
    ),
    pytest.param(
        "domain", {"AppImageConfigName": "config-"}, "AppImageConfigName 'config-'", id="config-dash"
    ),
    pytest.param("domain", {"ImageVersionNumber": "0"}, "got '0'", id="version-zero"),
    pytest.param("domain", {"ImageVersionNumber": "-1"}, "got '-1'", id="version-negative"),
    pytest.param("domain", {"ImageVersionNumber": "1.5"}, "got '1.5'", id="version-fraction"),
    pytest.param("domain", {"ImageVersionNumber": "latest"}, "got 'latest'", id="version-word"),
    pytest.param("domain", {"ImageVersionNumber": ""}, "got ''", id="version-empty"),
    pytest.param("domain", {"ImageVersionNumber": " 3"}, "got ' 3'", id="version-blank"),
    pytest.param("domain", {"ImageVersionNumber": "\u0663"}, "got '\u0663'", id="version-non-ascii-digit"),
    pytest.param("domain", {"ImageVersionNumber": "2147483648"}, "got '2147483648'", id="version-too-big"),
    pytest.param("domain", {"ImageVersionNumber": True}, "got True", id="version-bool"),
    pytest.param("domain", {"ImageVersionNumber": 2.0}, "got 2.0", id="version-float"),
    pytest.param(
        "domain", {"UserProfile": "alice"}, "Unknown properties ['UserProfile']", id="unknown-property"
    ),
]


@pytest.mark.parametrize(("kind", "change", "named"), BAD_INPUT)
def test_bad_input_fails_at_once_naming_the_value(cfn, sagemaker, operations, kind, change, named):
    event = cfn.event("Create", _props(cfn, kind, **change))

    body = cfn.send(event)

    assert body["Status"] == "FAILED"
    assert named in body["Reason"]
    assert len(body["Reason"]) <= 256  # crhelper would cut a longer one from the front
    assert GENERATED_ID.fullmatch(body["PhysicalResourceId"])
    assert operations == []
    sagemaker.done()


@pytest.mark.parametrize(
    ("kind", "change", "listed"),
    [
        ("domain", {"DomainId": "d-" + "a" * 61}, entry()),
        ("profile", {"UserProfileName": "A" * 63}, entry()),
        ("space", {"SpaceName": "a--b"}, entry()),
        ("domain", {"ImageName": "a" * 63}, entry(image="a" * 63)),
        ("domain", {"ImageName": "my.image-2"}, entry(image="my.image-2")),
        ("domain", {"AppImageConfigName": "c" * 63}, entry(config="c" * 63)),
        ("domain", {"ImageVersionNumber": 7}, entry(version=7)),
        ("domain", {"ImageVersionNumber": "2147483647"}, entry(version=2147483647)),
        ("domain", {"ImageVersionNumber": "007"}, entry(version=7)),
        ("domain", {"ServiceTimeout": "600"}, entry()),
    ],
    ids=[
        "domain-63",
        "profile-63",
        "space-dashes",
        "image-63",
        "image-dot",
        "config-63",
        "version-int",
        "version-max",
        "version-leading-zeros",
        "service-timeout",
    ],
)
def test_edge_values_are_accepted(cfn, sagemaker, kind, change, listed):
    props = _props(cfn, kind, **change)
    domain = props["DomainId"]
    ids = {"DomainId": domain, **{k: props[k] for k in ("UserProfileName", "SpaceName") if k in props}}
    method = {"domain": "domain", "profile": "user_profile", "space": "space"}[kind]
    settings = {"domain": "DefaultUserSettings", "profile": "UserSettings", "space": "SpaceSettings"}[kind]
    sagemaker.stubber.add_response(f"describe_{method}", {"Status": "InService"}, ids)
    written = {settings: {"KernelGatewayAppSettings": {"CustomImages": [listed]}}}
    sagemaker.stubber.add_response(f"update_{method}", {}, {**ids, **written})
    sagemaker.stubber.add_response(f"describe_{method}", {"Status": "InService"}, ids)
    event = cfn.event("Create", props)

    assert cfn.send(event)["Status"] == "SUCCESS"
    sagemaker.done()


# --- The contract with the construct ----------------------------------------------------------------------


def test_sagemaker_actions_are_exactly_the_operations_called(cfn, sagemaker, operations, index):
    """The IAM policy grants SAGEMAKER_ACTIONS; the code must need all of them and nothing else."""
    for kind in ("domain", "profile", "space"):
        rmw(sagemaker, kind, "KernelGateway", app(), app(entry()))
        assert cfn.send(cfn.event("Create", cfn.props(kind)))["Status"] == "SUCCESS"
        rmw(sagemaker, kind, "KernelGateway", app(entry()), app())
        delete = cfn.event("Delete", cfn.props(kind), physical_id=cfn.physical_id(kind))
        assert cfn.send(delete)["Status"] == "SUCCESS"

    assert len(index.SAGEMAKER_ACTIONS) == len(set(index.SAGEMAKER_ACTIONS)) == 6
    assert {f"sagemaker:{name}" for name in operations} == set(index.SAGEMAKER_ACTIONS)
    sagemaker.done()


def test_crhelper_is_configured_and_separate_from_the_aliases_handler(index, handlers):
    helper = index.helper
    assert helper is not handlers["image_version_aliases"].helper
    assert helper._create_func is index.create and helper._delete_func is index.delete
    assert helper._update_func is index.update
    assert (helper._poll_create_func, helper._poll_update_func, helper._poll_delete_func) == (
        None,
        None,
        None,
    )
    assert helper._sleep_on_delete == 0 and helper._log_level == "INFO"
    for polling_client in ("_lambda_client", "_events_client", "_logs_client"):
        assert not hasattr(helper, polling_client)
