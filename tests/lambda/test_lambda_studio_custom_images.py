"""Unit tests of the Studio custom-images custom resource (docs/studio-custom-resource.md), SageMaker stubbed.

Each test queues the exact SageMaker calls the behaviour requires (the Stubber checks their order, and
their params against botocore's real model) and asserts the response crhelper PUT to the (local HTTPS)
ResponseURL. Target kinds: "domain" (DefaultUserSettings and DefaultSpaceSettings), "profile" (a user
profile's UserSettings), "space" (a space's SpaceSettings). Where the number of calls is the point, the
test compares ``operations`` (every SageMaker call made, in order).
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
DOMAIN_ID = f"{DOMAIN}/domain"
PROFILE_ID = f"{DOMAIN}/user-profile/alice"
SPACE_ID = f"{DOMAIN}/space/team-space"
GENERATED_ID = re.compile(r"images-stack_StudioImages_[A-Z0-9]{8}")  # crhelper's id for a failed Create
SPEC = {"InstanceType": "ml.t3.medium", "SageMakerImageArn": "arn:aws:sagemaker:us-east-1:123:image/base"}
OTHER = {"ImageName": "team-image", "AppImageConfigName": "team-config", "ImageVersionNumber": 2}
LATER = {"ImageName": "later-image", "AppImageConfigName": "later-config"}
HINT = " Fix: image.grant_read(<the target's execution role>)"
ROLE = "arn:aws:iam::123456789012:role/StudioExecution"
NO_READ = (
    f"SageMaker is unable to use your associated execution role {ROLE} to describe image version."
    " Verify that your associated execution role has permission for 'sagemaker:DescribeImageVersion'."
)
SETTINGS_OF = {"domain": "DefaultUserSettings", "profile": "UserSettings", "space": "SpaceSettings"}
# Every settings object with every app type SageMaker has CustomImages for there (botocore's model).
VALID = [
    ("domain", "DefaultUserSettings", "KernelGateway"),
    ("domain", "DefaultUserSettings", "JupyterLab"),
    ("domain", "DefaultUserSettings", "CodeEditor"),
    ("domain", "DefaultSpaceSettings", "KernelGateway"),
    ("domain", "DefaultSpaceSettings", "JupyterLab"),
    ("profile", "UserSettings", "KernelGateway"),
    ("profile", "UserSettings", "JupyterLab"),
    ("profile", "UserSettings", "CodeEditor"),
    ("space", "SpaceSettings", "KernelGateway"),
]
DESCRIBE = {"domain": "DescribeDomain", "profile": "DescribeUserProfile", "space": "DescribeSpace"}
UPDATE = {"domain": "UpdateDomain", "profile": "UpdateUserProfile", "space": "UpdateSpace"}


def listed(image: str = IMAGE, config: str = CONFIG, version: int | None = None) -> dict[str, Any]:
    """An entry as SageMaker lists it (the version an integer)."""
    entry: dict[str, Any] = {"ImageName": image, "AppImageConfigName": config}
    if version is not None:
        entry["ImageVersionNumber"] = version
    return entry


def app(*images: dict[str, Any]) -> dict[str, Any]:
    """An AppSettings object as Describe* returns it: a resource spec and the listed images."""
    return {"DefaultResourceSpec": SPEC, "CustomImages": list(images)}


def kg(*images: dict[str, Any]) -> dict[str, Any]:
    return {"KernelGatewayAppSettings": app(*images)}


def bare(*images: dict[str, Any]) -> dict[str, Any]:
    """KernelGateway settings that hold nothing but the list (what a write to an empty object sends)."""
    return {"KernelGatewayAppSettings": {"CustomImages": list(images)}}


def rmw(sagemaker: Any, kind: str, before: dict[str, Any], changed: dict[str, Any], **kw: Any) -> None:
    """Queue one read-modify-write: Describe (InService) showing ``before`` (settings objects), Update
    with ``changed``, Describe (InService) showing what was written."""
    sagemaker.describe(kind, **before, **kw)
    sagemaker.update(kind, changed, **kw)
    after = {name: {**before.get(name, {}), **objects} for name, objects in changed.items()}
    sagemaker.describe(kind, **{**before, **after}, **kw)


# --- Create ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "settings", "app_type"), VALID)
def test_create_appends_the_entry_and_keeps_the_others(cfn, sagemaker, operations, kind, settings, app_type):
    key = f"{app_type}AppSettings"
    before = {settings: {key: app(OTHER)}}
    rmw(sagemaker, kind, before, {settings: {key: app(OTHER, listed(version=3))}})
    event = cfn.event("Create", cfn.props(kind, cfn.entry(settings, app_type, version=3)))

    assert cfn.send(event) == cfn.expected(event, "SUCCESS", cfn.physical_id(kind))
    assert operations == [DESCRIBE[kind], UPDATE[kind], DESCRIBE[kind]]
    sagemaker.done()


@pytest.mark.parametrize(
    ("kind", "physical_id"),
    [("domain", "d-abc123xyz/domain"), ("profile", PROFILE_ID), ("space", SPACE_ID)],
)
def test_physical_id_is_the_target(cfn, sagemaker, kind, physical_id):
    settings = SETTINGS_OF[kind]
    rmw(sagemaker, kind, {}, {settings: {"KernelGatewayAppSettings": {"CustomImages": [listed()]}}})
    event = cfn.event("Create", cfn.props(kind))

    assert cfn.send(event)["PhysicalResourceId"] == physical_id
    sagemaker.done()


def test_many_entries_on_one_target_are_one_update(cfn, sagemaker, operations):
    """Three app types and both settings objects of a domain: one UpdateDomain carrying all four lists."""
    before = {
        "DefaultUserSettings": {"KernelGatewayAppSettings": app(OTHER), "JupyterLabAppSettings": app()},
        "DefaultSpaceSettings": {"JupyterLabAppSettings": app(LATER)},
    }
    changed = {
        "DefaultUserSettings": {
            "KernelGatewayAppSettings": app(OTHER, listed(version=1)),
            "JupyterLabAppSettings": app(listed(version=1), listed("second", "c2")),
            "CodeEditorAppSettings": {"CustomImages": [listed(config="ce")]},
        },
        "DefaultSpaceSettings": {"JupyterLabAppSettings": app(LATER, listed())},
    }
    rmw(sagemaker, "domain", before, changed)
    event = cfn.event(
        "Create",
        cfn.props(
            "domain",
            cfn.entry("DefaultUserSettings", "KernelGateway", version=1),
            cfn.entry("DefaultUserSettings", "JupyterLab", version=1),
            cfn.entry("DefaultSpaceSettings", "JupyterLab"),
            cfn.entry("DefaultUserSettings", "JupyterLab", "second", "c2"),
            cfn.entry("DefaultUserSettings", "CodeEditor", config="ce"),
        ),
    )

    assert cfn.send(event) == cfn.expected(event, "SUCCESS", DOMAIN_ID)
    assert operations == ["DescribeDomain", "UpdateDomain", "DescribeDomain"]
    sagemaker.done()


def test_a_domain_with_entries_in_both_settings_objects_is_one_update_domain(cfn, sagemaker, operations):
    changed = {
        "DefaultUserSettings": {"JupyterLabAppSettings": {"CustomImages": [listed()]}},
        "DefaultSpaceSettings": {"JupyterLabAppSettings": {"CustomImages": [listed()]}},
    }
    rmw(sagemaker, "domain", {}, changed)
    event = cfn.event(
        "Create",
        cfn.props(
            "domain",
            cfn.entry("DefaultUserSettings", "JupyterLab"),
            cfn.entry("DefaultSpaceSettings", "JupyterLab"),
        ),
    )

    assert cfn.send(event)["Status"] == "SUCCESS"
    assert operations.count("UpdateDomain") == 1
    sagemaker.done()


def test_create_replaces_a_listed_entry_of_the_same_image_in_place(cfn, sagemaker):
    old = listed(config="hand-made", version=1)
    rmw(
        sagemaker,
        "domain",
        {"DefaultUserSettings": kg(OTHER, old, LATER)},
        {"DefaultUserSettings": kg(OTHER, listed(version=4), LATER)},
    )
    event = cfn.event("Create", cfn.props("domain", cfn.entry(version=4)))

    assert cfn.send(event)["Status"] == "SUCCESS"
    sagemaker.done()


def test_a_retried_create_with_every_entry_in_place_writes_nothing(cfn, sagemaker, operations):
    sagemaker.describe("domain", DefaultUserSettings=kg(OTHER, listed(version=3)))
    event = cfn.event("Create", cfn.props("domain", cfn.entry(version=3)))

    assert cfn.send(event) == cfn.expected(event, "SUCCESS", DOMAIN_ID)
    assert operations == ["DescribeDomain"]
    sagemaker.done()


def test_every_scalar_as_a_string_is_accepted(cfn, sagemaker, requests):
    """CloudFormation sends "3" for 3: the version is written as the integer the API takes."""
    rmw(sagemaker, "profile", {}, {"UserSettings": bare(listed(version=3))})
    props = cfn.props("profile", cfn.entry("UserSettings", version="3"), ServiceTimeout="660")
    assert all(isinstance(value, str) for value in props["CustomImages"][0].values())

    assert cfn.send(cfn.event("Create", props))["Status"] == "SUCCESS"
    (update,) = [params for name, params in requests if name.startswith("Update")]
    assert update["UserSettings"]["KernelGatewayAppSettings"]["CustomImages"][0]["ImageVersionNumber"] == 3
    sagemaker.done()


# --- The update request carries nothing but the changed AppSettings objects -----------------------------

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
def requests(shared: Any) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Every request's operation and params, as the client is about to serialize them."""
    seen: list[tuple[str, dict[str, Any]]] = []

    def record(model: Any, params: dict[str, Any], **_: Any) -> None:
        seen.append((model.name, json.loads(json.dumps(params))))

    events = shared.sagemaker().meta.events
    events.register("before-parameter-build.sagemaker", record, unique_id="test-record-requests")
    try:
        yield seen
    finally:
        events.unregister("before-parameter-build.sagemaker", unique_id="test-record-requests")


@pytest.mark.parametrize(("kind", "settings", "app_type"), VALID)
def test_the_update_request_carries_only_the_changed_app_settings_object(
    cfn, sagemaker, requests, kind, settings, app_type
):
    rich = {name: RICH["DefaultUserSettings" if name == "UserSettings" else name] for name in (settings,)}
    if kind == "domain":  # the other settings object is read too, and must not be sent
        rich = {
            "DefaultUserSettings": RICH["DefaultUserSettings"],
            "DefaultSpaceSettings": RICH["DefaultSpaceSettings"],
        }
    key = f"{app_type}AppSettings"
    written = {**rich[settings][key], "CustomImages": [OTHER, listed(version=5)]}
    rmw(sagemaker, kind, rich, {settings: {key: written}})
    event = cfn.event("Create", cfn.props(kind, cfn.entry(settings, app_type, version=5)))

    assert cfn.send(event)["Status"] == "SUCCESS"
    (update,) = [params for name, params in requests if name.startswith("Update")]
    names = {"profile": ["UserProfileName"], "space": ["SpaceName"]}.get(kind, [])
    assert sorted(update) == sorted(["DomainId", *names, settings])
    assert update[settings] == {key: written}  # as read but for CustomImages, and nothing else
    assert ROLE not in json.dumps(update) and "ExecutionRole" not in json.dumps(update)  # no iam:PassRole
    sagemaker.done()


# --- Update: the difference between the old and the new properties -------------------------------------


def test_update_applies_the_difference_in_one_call(cfn, sagemaker, operations, requests):
    """One pin moved (3 -> 4) and one entry removed: exactly one update, with exactly those two lists;
    the unchanged entry's AppSettings object is not sent."""
    before = {
        "DefaultUserSettings": {
            "KernelGatewayAppSettings": app(OTHER, listed(version=3)),
            "JupyterLabAppSettings": app(listed("gone", "c-gone"), LATER),
            "CodeEditorAppSettings": app(listed("kept", "c-kept", 1)),
        }
    }
    old = cfn.props(
        "domain",
        cfn.entry(version=3),
        cfn.entry(app_type="JupyterLab", image="gone", config="c-gone"),
        cfn.entry(app_type="CodeEditor", image="kept", config="c-kept", version=1),
    )
    new = cfn.props(
        "domain",
        cfn.entry(version=4),
        cfn.entry(app_type="CodeEditor", image="kept", config="c-kept", version=1),
    )
    changed = {
        "DefaultUserSettings": {
            "KernelGatewayAppSettings": app(OTHER, listed(version=4)),
            "JupyterLabAppSettings": app(LATER),
        }
    }
    rmw(sagemaker, "domain", before, changed)
    event = cfn.event("Update", new, physical_id=DOMAIN_ID, old=old)

    assert cfn.send(event) == cfn.expected(event, "SUCCESS", DOMAIN_ID)
    assert operations == ["DescribeDomain", "UpdateDomain", "DescribeDomain"]
    (update,) = [params for name, params in requests if name == "UpdateDomain"]
    assert update == {"DomainId": DOMAIN, **changed}
    sagemaker.done()


def test_update_removes_a_gone_entry_only_while_still_ours(cfn, sagemaker, operations):
    """Someone pinned 'gone' to another config since: it stays; the new entry is put."""
    before = {"DefaultUserSettings": kg(listed("gone", "their-config"))}
    rmw(sagemaker, "domain", before, {"DefaultUserSettings": kg(listed("gone", "their-config"), listed())})
    old = cfn.props("domain", cfn.entry(image="gone", config="c-gone"))
    event = cfn.event("Update", cfn.props("domain"), physical_id=DOMAIN_ID, old=old)

    assert cfn.send(event)["Status"] == "SUCCESS"
    sagemaker.done()


def test_update_with_nothing_to_change_in_the_service_writes_nothing(cfn, sagemaker, operations):
    sagemaker.describe("domain", DefaultUserSettings=kg(listed(version=4)))
    old = cfn.props("domain", cfn.entry(version=3))
    event = cfn.event("Update", cfn.props("domain", cfn.entry(version=4)), physical_id=DOMAIN_ID, old=old)

    assert cfn.send(event)["Status"] == "SUCCESS"
    assert operations == ["DescribeDomain"]
    sagemaker.done()


def test_unpinned_entries_shown_with_a_number_are_ours_on_update(cfn, sagemaker, operations, requests):
    """Unpinned, shown as version 7 by the service: not rewritten when kept, removed when gone."""
    before = {"UserSettings": kg(listed(version=7), listed("gone", "c-gone", 7), OTHER)}
    old = cfn.props(
        "profile", cfn.entry("UserSettings"), cfn.entry("UserSettings", image="gone", config="c-gone")
    )
    rmw(sagemaker, "profile", before, {"UserSettings": kg(listed(version=7), OTHER)})
    event = cfn.event("Update", cfn.props("profile"), physical_id=PROFILE_ID, old=old)

    assert cfn.send(event)["Status"] == "SUCCESS"
    assert operations.count("UpdateUserProfile") == 1
    sagemaker.done()


def test_an_unpinned_entry_replacing_a_pinned_one_of_ours_is_written_once(cfn, sagemaker, operations):
    """Pinned to 3, now unpinned: rewritten without a number; the service then shows 3 again (the latest),
    which is ours: no second write."""
    sagemaker.describe("domain", DefaultUserSettings=kg(OTHER, listed(version=3)))
    sagemaker.update("domain", {"DefaultUserSettings": kg(OTHER, listed())})
    sagemaker.describe("domain", DefaultUserSettings=kg(OTHER, listed(version=3)))
    old = cfn.props("domain", cfn.entry(version=3))
    event = cfn.event("Update", cfn.props("domain"), physical_id=DOMAIN_ID, old=old)

    assert cfn.send(event)["Status"] == "SUCCESS"
    assert operations == ["DescribeDomain", "UpdateDomain", "DescribeDomain"]
    sagemaker.done()


def test_a_change_of_target_is_a_replacement_and_the_old_delete_detaches(cfn, sagemaker, operations):
    old = cfn.props("domain", cfn.entry(version=3))
    new = cfn.props("profile", cfn.entry("UserSettings", "JupyterLab"))
    rmw(sagemaker, "profile", {}, {"UserSettings": {"JupyterLabAppSettings": {"CustomImages": [listed()]}}})
    update = cfn.event("Update", new, physical_id=DOMAIN_ID, old=old)

    assert cfn.send(update) == cfn.expected(update, "SUCCESS", PROFILE_ID)
    assert operations == ["DescribeUserProfile", "UpdateUserProfile", "DescribeUserProfile"]  # no domain
    sagemaker.done()

    # CloudFormation then deletes the old resource with the old properties: the domain's entry goes.
    rmw(
        sagemaker,
        "domain",
        {"DefaultUserSettings": kg(OTHER, listed(version=3))},
        {"DefaultUserSettings": kg(OTHER)},
    )
    delete = cfn.event("Delete", old, physical_id=DOMAIN_ID)
    assert cfn.send(delete) == cfn.expected(delete, "SUCCESS", DOMAIN_ID)
    sagemaker.done()


def test_update_to_another_domain_is_a_replacement(cfn, sagemaker):
    rmw(sagemaker, "domain", {}, {"DefaultUserSettings": bare(listed())}, domain="d-other1")
    event = cfn.event("Update", cfn.props(domain="d-other1"), physical_id=DOMAIN_ID, old=cfn.props())

    assert cfn.send(event)["PhysicalResourceId"] == "d-other1/domain"
    sagemaker.done()


def test_bad_input_on_update_fails_and_keeps_the_old_id(cfn, sagemaker, operations):
    event = cfn.event(
        "Update", cfn.props("domain", cfn.entry(version="zero")), physical_id=DOMAIN_ID, old=cfn.props()
    )

    body = cfn.send(event)

    assert body["Status"] == "FAILED" and body["PhysicalResourceId"] == DOMAIN_ID
    assert body["Reason"] == "CustomImages[0].ImageVersionNumber must be a positive integer, got 'zero'"
    assert operations == []
    sagemaker.done()


def test_a_rollback_update_whose_old_properties_do_not_parse_puts_the_new(cfn, sagemaker):
    """A failed Update's rollback has the failed (invalid) properties as its old ones."""
    rmw(sagemaker, "domain", {}, {"DefaultUserSettings": bare(listed())})
    old = cfn.props("domain", cfn.entry(version="zero"))
    event = cfn.event("Update", cfn.props(), physical_id=DOMAIN_ID, old=old)

    assert cfn.send(event)["Status"] == "SUCCESS"
    sagemaker.done()


# --- Delete ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "settings", "app_type"), VALID)
def test_delete_removes_our_entries_and_keeps_the_others(cfn, sagemaker, kind, settings, app_type):
    key = f"{app_type}AppSettings"
    before = {settings: {key: app(OTHER, listed(version=3), LATER)}}
    rmw(sagemaker, kind, before, {settings: {key: app(OTHER, LATER)}})
    physical_id = cfn.physical_id(kind)
    event = cfn.event(
        "Delete", cfn.props(kind, cfn.entry(settings, app_type, version=3)), physical_id=physical_id
    )

    assert cfn.send(event) == cfn.expected(event, "SUCCESS", physical_id)
    sagemaker.done()


def test_delete_of_many_entries_is_one_update(cfn, sagemaker, operations):
    before = {
        "DefaultUserSettings": {
            "KernelGatewayAppSettings": app(listed()),
            "JupyterLabAppSettings": app(listed()),
        },
        "DefaultSpaceSettings": {"JupyterLabAppSettings": app(OTHER, listed())},
    }
    changed = {
        "DefaultUserSettings": {"KernelGatewayAppSettings": app(), "JupyterLabAppSettings": app()},
        "DefaultSpaceSettings": {"JupyterLabAppSettings": app(OTHER)},
    }
    rmw(sagemaker, "domain", before, changed)
    props = cfn.props(
        "domain",
        cfn.entry(),
        cfn.entry(app_type="JupyterLab"),
        cfn.entry("DefaultSpaceSettings", "JupyterLab"),
    )

    assert cfn.send(cfn.event("Delete", props, physical_id=DOMAIN_ID))["Status"] == "SUCCESS"
    assert operations == ["DescribeDomain", "UpdateDomain", "DescribeDomain"]
    sagemaker.done()


def test_unpinned_entries_shown_with_a_number_are_ours_on_delete(cfn, sagemaker):
    rmw(sagemaker, "space", {"SpaceSettings": kg(OTHER, listed(version=12))}, {"SpaceSettings": kg(OTHER)})
    event = cfn.event("Delete", cfn.props("space"), physical_id=SPACE_ID)

    assert cfn.send(event)["Status"] == "SUCCESS"
    sagemaker.done()


@pytest.mark.parametrize(
    ("shown", "version"),
    [
        (listed(config="changed-config", version=3), 3),
        (listed(version=4), 3),
        (listed(), 3),  # we pinned 3; someone unpinned it since
        (listed(image="other-name", version=3), 3),
    ],
    ids=["other-config", "other-version", "unpinned-since", "not-listed"],
)
def test_delete_leaves_an_entry_changed_since(cfn, sagemaker, operations, shown, version):
    sagemaker.describe("domain", DefaultUserSettings=kg(OTHER, shown))
    event = cfn.event("Delete", cfn.props("domain", cfn.entry(version=version)), physical_id=DOMAIN_ID)

    assert cfn.send(event) == cfn.expected(event, "SUCCESS", DOMAIN_ID)
    assert operations == ["DescribeDomain"]
    sagemaker.done()


@pytest.mark.parametrize("kind", ["domain", "profile", "space"])
def test_delete_of_a_missing_target_succeeds(cfn, sagemaker, kind):
    sagemaker.fails("describe", kind, "ResourceNotFound", "Cannot find the resource.")
    physical_id = cfn.physical_id(kind)
    event = cfn.event("Delete", cfn.props(kind), physical_id=physical_id)

    assert cfn.send(event) == cfn.expected(event, "SUCCESS", physical_id)
    sagemaker.done()


def test_delete_of_a_target_being_deleted_succeeds_without_writing(cfn, sagemaker, operations):
    sagemaker.describe("profile", status="Deleting", UserSettings=kg(listed()))
    event = cfn.event("Delete", cfn.props("profile"), physical_id=PROFILE_ID)

    assert cfn.send(event) == cfn.expected(event, "SUCCESS", PROFILE_ID)
    assert operations == ["DescribeUserProfile"]
    sagemaker.done()


def test_delete_from_update_failed_detaches(cfn, sagemaker, operations):
    sagemaker.describe(
        "domain", status="Update_Failed", failure="Bad VPC", DefaultUserSettings=kg(OTHER, listed())
    )
    sagemaker.update("domain", {"DefaultUserSettings": kg(OTHER)})
    sagemaker.describe("domain", DefaultUserSettings=kg(OTHER))
    event = cfn.event("Delete", cfn.props(), physical_id=DOMAIN_ID)

    assert cfn.send(event) == cfn.expected(event, "SUCCESS", DOMAIN_ID)
    assert operations == ["DescribeDomain", "UpdateDomain", "DescribeDomain"]
    sagemaker.done()


@pytest.mark.parametrize("status", ["Failed", "Delete_Failed"])
def test_delete_from_a_failed_target_fails_only_if_it_must_write(cfn, sagemaker, status):
    sagemaker.describe("domain", status=status, failure="Subnet gone", DefaultUserSettings=kg(OTHER))
    nothing_to_do = cfn.event("Delete", cfn.props(), physical_id=DOMAIN_ID)
    assert cfn.send(nothing_to_do)["Status"] == "SUCCESS"

    sagemaker.describe("domain", status=status, failure="Subnet gone", DefaultUserSettings=kg(listed()))
    must_write = cfn.event("Delete", cfn.props(), physical_id=DOMAIN_ID)
    assert cfn.send(must_write) == cfn.expected(
        must_write, "FAILED", DOMAIN_ID, f"Domain 'd-abc123xyz' is {status!r} before the update: Subnet gone"
    )
    sagemaker.done()


def test_delete_succeeds_when_the_target_vanishes_before_the_write(cfn, sagemaker):
    sagemaker.describe("space", SpaceSettings=kg(listed()))
    params = sagemaker.update_params("space", {"SpaceSettings": kg()})
    sagemaker.fails("update", "space", "ResourceNotFound", "Space does not exist", params)
    event = cfn.event("Delete", cfn.props("space"), physical_id=SPACE_ID)

    assert cfn.send(event) == cfn.expected(event, "SUCCESS", SPACE_ID)
    sagemaker.done()


def test_rollback_delete_of_a_create_refused_as_bad_input_calls_nothing(
    cfn, sagemaker, operations, crhelper_sleeps
):
    generated = "images-stack_StudioImages_Q7W3ZK1P"
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
        "d-abc123xyz/DefaultUserSettings/KernelGateway/my-image",  # the old contract's form
        "d-abc123xyz/domain/extra",
        "d-abc123xyz/user-profile/al_ice",
        "D-ABC/domain",
        "my-image/3/aliases",
        "",
    ],
)
def test_delete_of_an_id_not_of_our_form_calls_nothing(cfn, sagemaker, operations, physical_id):
    event = cfn.event("Delete", cfn.props(), physical_id=physical_id)

    assert cfn.send(event)["Status"] == "SUCCESS"
    assert operations == []
    sagemaker.done()


@pytest.mark.parametrize(
    "props",
    [
        {"CustomImages": [{"Settings": "DefaultUserSettings"}]},
        {"DomainId": "d-other1"},  # another target than the id's
    ],
    ids=["unparsable", "other-target"],
)
def test_delete_whose_properties_name_nothing_of_ours_there_calls_nothing(cfn, sagemaker, operations, props):
    event = cfn.event("Delete", {**cfn.props(), **props}, physical_id=DOMAIN_ID)

    assert cfn.send(event)["Status"] == "SUCCESS"
    assert operations == []
    sagemaker.done()


# --- Statuses -------------------------------------------------------------------------------------------


def test_create_waits_while_pending_or_updating_before_and_after_the_write(cfn, sagemaker, clock):
    before = {"DefaultUserSettings": kg(OTHER)}
    sagemaker.describe("domain", status="Pending", **before)
    sagemaker.describe("domain", status="Updating", **before)
    sagemaker.describe("domain", status="Updating", **before)
    sagemaker.describe("domain", status="Updating", **before)
    sagemaker.describe("domain", status="Updating", **before)
    sagemaker.describe("domain", **before)
    sagemaker.update("domain", {"DefaultUserSettings": kg(OTHER, listed())})
    sagemaker.describe("domain", status="Updating")
    sagemaker.describe("domain", DefaultUserSettings=kg(OTHER, listed()))
    event = cfn.event("Create", cfn.props())

    assert cfn.send(event) == cfn.expected(event, "SUCCESS", DOMAIN_ID)
    assert clock.sleeps == [2.0, 4.0, 8.0, 15.0, 15.0, 2.0]
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
    assert body == cfn.expected(event, "FAILED", SPACE_ID, reason)
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


@pytest.mark.parametrize("status", ["Failed", "Delete_Failed", "Deleting", "Unheard_Of"])
def test_create_on_a_target_in_another_status_fails_naming_status_and_reason(
    cfn, sagemaker, status, operations
):
    sagemaker.describe("profile", status=status, failure="Subnet gone", UserSettings={})
    event = cfn.event("Create", cfn.props("profile"))

    body = cfn.send(event)

    reason = f"User profile 'alice' of domain 'd-abc123xyz' is {status!r} before the update: Subnet gone"
    assert body == cfn.expected(event, "FAILED", PROFILE_ID, reason)
    assert operations == ["DescribeUserProfile"]
    sagemaker.done()


@pytest.mark.parametrize(
    ("status", "failure", "shown"),
    [
        ("Failed", "Subnet gone", "Subnet gone"),
        ("Delete_Failed", "Subnet gone", "Subnet gone"),
        ("Deleting", None, "no FailureReason given"),
    ],
)
@pytest.mark.parametrize("request_type", ["Create", "Update"])
def test_nothing_to_write_on_a_target_in_another_status_still_fails_naming_it(
    cfn, sagemaker, operations, request_type, status, failure, shown
):
    """Every entry already listed as wanted (and, for the Update, the gone one already unlisted): only a
    Delete with nothing to remove succeeds on such a target; a Create or an Update answers FAILED."""
    sagemaker.describe("profile", status=status, failure=failure, UserSettings=kg(OTHER, listed(version=3)))
    props = cfn.props("profile", cfn.entry("UserSettings", version=3))
    if request_type == "Create":
        event = cfn.event("Create", props)
    else:
        old = cfn.props("profile", cfn.entry("UserSettings", version=3), cfn.entry("UserSettings", "gone"))
        event = cfn.event("Update", props, physical_id=PROFILE_ID, old=old)

    body = cfn.send(event)

    reason = f"User profile 'alice' of domain 'd-abc123xyz' is {status!r} before the update: {shown}"
    assert body == cfn.expected(event, "FAILED", PROFILE_ID, reason)
    assert operations == ["DescribeUserProfile"]
    sagemaker.done()


def test_update_failed_before_the_write_writes_and_succeeds(cfn, sagemaker, operations):
    """The service takes an update from Update_Failed (and a fixed cause clears it)."""
    sagemaker.describe(
        "domain", status="Update_Failed", failure="Earlier trouble", DefaultUserSettings=kg(OTHER)
    )
    sagemaker.update("domain", {"DefaultUserSettings": kg(OTHER, listed())})
    sagemaker.describe("domain", DefaultUserSettings=kg(OTHER, listed()))
    event = cfn.event("Create", cfn.props())

    assert cfn.send(event) == cfn.expected(event, "SUCCESS", DOMAIN_ID)
    assert operations == ["DescribeDomain", "UpdateDomain", "DescribeDomain"]
    sagemaker.done()


def test_update_failed_after_the_write_removes_what_it_wrote_then_fails_with_the_new_reason(
    cfn, sagemaker, operations
):
    """The write of an Update fails: the entries this invocation wrote (the new pin) go first; the
    entry it left unchanged stays; the reason is the new FailureReason."""
    kept = listed("kept", "c-kept")
    before = {"DefaultUserSettings": kg(OTHER, kept, listed(version=3))}
    sagemaker.describe("domain", status="Update_Failed", failure="Old reason", **before)
    sagemaker.update("domain", {"DefaultUserSettings": kg(OTHER, kept, listed(version=4))})
    written = {"DefaultUserSettings": kg(OTHER, kept, listed(version=4))}
    sagemaker.describe(
        "domain", status="Update_Failed", failure="AppImageConfig my-config not found", **written
    )
    # the clean-up: its own read-modify-write, from Update_Failed
    sagemaker.describe(
        "domain", status="Update_Failed", failure="AppImageConfig my-config not found", **written
    )
    sagemaker.update("domain", {"DefaultUserSettings": kg(OTHER, kept)})
    sagemaker.describe("domain", DefaultUserSettings=kg(OTHER, kept))
    old = cfn.props("domain", cfn.entry(version=3), cfn.entry(image="kept", config="c-kept"))
    new = cfn.props("domain", cfn.entry(version=4), cfn.entry(image="kept", config="c-kept"))
    event = cfn.event("Update", new, physical_id=DOMAIN_ID, old=old)

    body = cfn.send(event)

    reason = "Domain 'd-abc123xyz' is 'Update_Failed' after the update: AppImageConfig my-config not found"
    assert body == cfn.expected(event, "FAILED", DOMAIN_ID, reason)
    assert operations == ["DescribeDomain", "UpdateDomain", "DescribeDomain"] * 2
    sagemaker.done()


def test_a_failure_after_two_writes_of_different_entries_takes_back_both(cfn, sagemaker, operations):
    """An Update adds my-image to b-image: the first write puts my-image (b-image is listed as wanted);
    a concurrent writer then drops b-image, so the second write puts b-image; the target fails. The
    take-back removes what each of the two writes put, not only the last one's."""
    b = listed("b-image", "b-config")
    sagemaker.describe("domain", DefaultUserSettings=kg(OTHER, b))
    sagemaker.update("domain", {"DefaultUserSettings": kg(OTHER, b, listed())})
    sagemaker.describe("domain", DefaultUserSettings=kg(OTHER, listed(), LATER))  # theirs replaced b-image
    sagemaker.update("domain", {"DefaultUserSettings": kg(OTHER, listed(), LATER, b)})
    written = {"DefaultUserSettings": kg(OTHER, listed(), LATER, b)}
    failed = {"status": "Update_Failed", "failure": "AppImageConfig b-config not found"}
    sagemaker.describe("domain", **failed, **written)
    # the take-back: its own read-modify-write, from Update_Failed, removing both
    sagemaker.describe("domain", **failed, **written)
    sagemaker.update("domain", {"DefaultUserSettings": kg(OTHER, LATER)})
    sagemaker.describe("domain", DefaultUserSettings=kg(OTHER, LATER))
    old = cfn.props("domain", cfn.entry(image="b-image", config="b-config"))
    new = cfn.props("domain", cfn.entry(image="b-image", config="b-config"), cfn.entry())
    event = cfn.event("Update", new, physical_id=DOMAIN_ID, old=old)

    body = cfn.send(event)

    reason = "Domain 'd-abc123xyz' is 'Update_Failed' after the update: AppImageConfig b-config not found"
    assert body == cfn.expected(event, "FAILED", DOMAIN_ID, reason)
    assert operations == ["DescribeDomain"] + ["UpdateDomain", "DescribeDomain"] * 2 + [
        "DescribeDomain",
        "UpdateDomain",
        "DescribeDomain",
    ]
    sagemaker.done()


def test_a_failed_write_that_wrote_nothing_removes_nothing(cfn, sagemaker, operations):
    sagemaker.describe("domain", DefaultUserSettings=kg())
    params = sagemaker.update_params("domain", {"DefaultUserSettings": kg(listed())})
    sagemaker.fails("update", "domain", "ValidationException", "Image my-image does not exist.", params)
    body = cfn.send(cfn.event("Create", cfn.props()))

    assert body["Status"] == "FAILED"
    assert body["Reason"].startswith("Domain 'd-abc123xyz': An error occurred (ValidationException)")
    assert "Image my-image does not exist." in body["Reason"]
    assert operations == ["DescribeDomain", "UpdateDomain"]
    sagemaker.done()


@pytest.mark.parametrize(
    ("kind", "label"),
    [
        ("domain", "Domain 'd-abc123xyz'"),
        ("profile", "User profile 'alice' of domain 'd-abc123xyz'"),
        ("space", "Space 'team-space' of domain 'd-abc123xyz'"),
    ],
)
def test_create_on_a_missing_target_fails_naming_it(cfn, sagemaker, kind, label):
    sagemaker.fails("describe", kind, "ResourceNotFound", "Cannot find the resource.")
    body = cfn.send(cfn.event("Create", cfn.props(kind)))

    assert body["Status"] == "FAILED"
    assert body["Reason"].startswith(f"{label} was not found: ") and "ResourceNotFound" in body["Reason"]
    sagemaker.done()


# --- The fix for a role that cannot read the image ------------------------------------------------------


@pytest.mark.parametrize("domain", [DOMAIN, "d-" + "a" * 61], ids=["short-ids", "longest-ids"])
def test_a_describe_image_version_failure_ends_with_the_fix_within_256_characters(cfn, sagemaker, domain):
    profile = "p" * 63 if domain != DOMAIN else "alice"
    ids = {"DomainId": domain, "UserProfileName": profile}
    written = {"UserSettings": {"JupyterLabAppSettings": {"CustomImages": [listed()]}}}
    sagemaker.stubber.add_response("describe_user_profile", {"Status": "InService"}, ids)
    sagemaker.stubber.add_response("update_user_profile", {}, {**ids, **written})
    failed = {"Status": "Update_Failed", "FailureReason": NO_READ, **written}
    sagemaker.stubber.add_response("describe_user_profile", failed, ids)
    sagemaker.stubber.add_response("describe_user_profile", failed, ids)  # the clean-up
    sagemaker.stubber.add_response(
        "update_user_profile", {}, {**ids, "UserSettings": {"JupyterLabAppSettings": {"CustomImages": []}}}
    )
    sagemaker.stubber.add_response("describe_user_profile", {"Status": "InService"}, ids)
    props = {
        **cfn.props("profile", cfn.entry("UserSettings", "JupyterLab"), domain=domain),
        "UserProfileName": profile,
    }
    event = cfn.event("Create", props)

    body = cfn.send(event)  # as CloudFormation receives it, after crhelper

    assert body["Status"] == "FAILED" and body["PhysicalResourceId"] == f"{domain}/user-profile/{profile}"
    assert body["Reason"].endswith(HINT)
    assert len(body["Reason"]) <= 256
    assert body["Reason"].startswith(
        f"User profile '{profile}' of domain '{domain}' is 'Update_Failed' after"
    )
    if domain == DOMAIN:  # short ids leave room for SageMaker's message, the role's ARN in it
        assert f"{NO_READ[:80]}" in body["Reason"] and ROLE in body["Reason"]
    sagemaker.done()


def test_a_describe_app_image_config_failure_ends_with_the_configs_fix(cfn, sagemaker):
    """Reported with DescribeImageVersion in public execution-role policies: the fix names the config."""
    reason = (
        f"SageMaker is unable to use your associated execution role {ROLE} to describe app image config. "
        "Verify that your associated execution role has permission for 'sagemaker:DescribeAppImageConfig'"
    )
    written = {"DefaultUserSettings": {"KernelGatewayAppSettings": {"CustomImages": [listed()]}}}
    sagemaker.describe("domain")
    sagemaker.update("domain", written)
    sagemaker.describe("domain", status="Update_Failed", failure=reason, **written)
    sagemaker.describe("domain", status="Update_Failed", failure=reason, **written)  # the clean-up
    sagemaker.update("domain", {"DefaultUserSettings": {"KernelGatewayAppSettings": {"CustomImages": []}}})
    sagemaker.describe("domain")
    body = cfn.send(cfn.event("Create", cfn.props()))

    assert body["Status"] == "FAILED"
    assert body["Reason"].endswith(" Fix: app_image_config.grant_read(<the target's execution role>)")
    assert HINT not in body["Reason"] and len(body["Reason"]) <= 256
    sagemaker.done()


def test_a_reason_without_describe_image_version_has_no_hint(cfn, sagemaker):
    sagemaker.describe("domain")
    sagemaker.update(
        "domain", {"DefaultUserSettings": {"KernelGatewayAppSettings": {"CustomImages": [listed()]}}}
    )
    written = {"DefaultUserSettings": {"KernelGatewayAppSettings": {"CustomImages": [listed()]}}}
    sagemaker.describe("domain", status="Failed", failure="x" * 400, **written)
    sagemaker.describe("domain", status="Failed", failure="x" * 400, **written)  # the clean-up: refused
    body = cfn.send(cfn.event("Create", cfn.props()))

    assert body["Status"] == "FAILED" and HINT not in body["Reason"]
    assert len(body["Reason"]) <= 256 and body["Reason"].endswith("x...")
    sagemaker.done()


# --- Verify after write: a concurrent writer -------------------------------------------------------------


def test_an_entry_missing_after_the_write_is_written_again(cfn, sagemaker, operations):
    """Someone's write (from what they read before ours) dropped our entry: the same description drives
    a second write (no extra describe), which takes."""
    sagemaker.describe("domain", DefaultUserSettings=kg(OTHER))
    sagemaker.update("domain", {"DefaultUserSettings": kg(OTHER, listed())})
    sagemaker.describe("domain", DefaultUserSettings=kg(OTHER, LATER))  # theirs replaced ours
    sagemaker.update("domain", {"DefaultUserSettings": kg(OTHER, LATER, listed())})
    sagemaker.describe("domain", DefaultUserSettings=kg(OTHER, LATER, listed()))
    event = cfn.event("Create", cfn.props())

    assert cfn.send(event) == cfn.expected(event, "SUCCESS", DOMAIN_ID)
    assert operations == [
        "DescribeDomain",
        "UpdateDomain",
        "DescribeDomain",
        "UpdateDomain",
        "DescribeDomain",
    ]
    sagemaker.done()


def test_a_removed_entry_back_after_the_write_is_removed_again(cfn, sagemaker, operations):
    sagemaker.describe("profile", UserSettings=kg(OTHER, listed()))
    sagemaker.update("profile", {"UserSettings": kg(OTHER)})
    sagemaker.describe("profile", UserSettings=kg(OTHER, listed()))  # back
    sagemaker.update("profile", {"UserSettings": kg(OTHER)})
    sagemaker.describe("profile", UserSettings=kg(OTHER))
    event = cfn.event("Delete", cfn.props("profile"), physical_id=PROFILE_ID)

    assert cfn.send(event)["Status"] == "SUCCESS"
    assert operations.count("UpdateUserProfile") == 2
    sagemaker.done()


def test_an_entry_still_missing_after_three_writes_fails_naming_the_target(cfn, sagemaker, operations, index):
    assert index.MAX_WRITES == 3
    sagemaker.describe("space", SpaceSettings=kg(OTHER))
    for _ in range(3):
        sagemaker.update("space", {"SpaceSettings": kg(OTHER, listed())})
        sagemaker.describe("space", SpaceSettings=kg(OTHER))
    sagemaker.describe("space", SpaceSettings=kg(OTHER))  # the clean-up's read
    event = cfn.event("Create", cfn.props("space"))

    body = cfn.send(event)

    assert body["Status"] == "FAILED" and body["PhysicalResourceId"] == SPACE_ID
    assert body["Reason"].startswith("Space 'team-space' of domain 'd-abc123xyz': CustomImages changed again")
    assert "3 writes" in body["Reason"]
    # Nothing of ours listed any more: the clean-up reads, and has nothing to remove.
    assert operations == ["DescribeSpace"] + ["UpdateSpace", "DescribeSpace"] * 3 + ["DescribeSpace"]
    sagemaker.done()


# --- Create: the physical id even when it fails ------------------------------------------------------------


def test_a_failed_create_answers_the_target_id_and_its_rollback_delete_detaches(cfn, sagemaker):
    """It failed after its write and could not take the entry back: the rollback Delete does."""
    written = {"UserSettings": bare(listed(version=2))}
    sagemaker.describe("profile")
    sagemaker.update("profile", written)
    sagemaker.describe("profile", status="Failed", failure="Internal failure", **written)
    sagemaker.describe("profile", status="Failed", failure="Internal failure", **written)  # clean-up: refused
    props = cfn.props("profile", cfn.entry("UserSettings", version=2))
    create = cfn.event("Create", props)

    body = cfn.send(create)
    assert body["Status"] == "FAILED" and body["PhysicalResourceId"] == PROFILE_ID
    assert "'Failed' after the update: Internal failure" in body["Reason"]
    sagemaker.done()

    sagemaker.describe("profile", status="Update_Failed", failure="Internal failure", **written)
    sagemaker.update("profile", {"UserSettings": bare()})
    sagemaker.describe("profile", UserSettings=bare())
    rollback = cfn.event("Delete", props, physical_id=body["PhysicalResourceId"])
    assert cfn.send(rollback) == cfn.expected(rollback, "SUCCESS", PROFILE_ID)
    sagemaker.done()


# --- ResourceInUse ----------------------------------------------------------------------------------------


def test_resource_in_use_reruns_the_whole_read_modify_write(cfn, sagemaker, clock):
    """The retry reads again: resending the first read would undo the change that made us wait."""
    sagemaker.describe("domain", DefaultUserSettings=kg(OTHER))
    first = sagemaker.update_params("domain", {"DefaultUserSettings": kg(OTHER, listed())})
    sagemaker.fails("update", "domain", "ResourceInUse", "Resource was modified concurrently", first)
    rmw(
        sagemaker,
        "domain",
        {"DefaultUserSettings": kg(OTHER, LATER)},
        {"DefaultUserSettings": kg(OTHER, LATER, listed())},
    )
    event = cfn.event("Create", cfn.props())

    assert cfn.send(event) == cfn.expected(event, "SUCCESS", DOMAIN_ID)
    (slept,) = clock.sleeps
    assert 0.5 <= slept <= 1.0
    sagemaker.done()


def test_resource_in_use_gives_up_after_max_attempts(cfn, sagemaker, clock, shared):
    params = sagemaker.update_params("profile", {"UserSettings": kg(listed())})
    for _ in range(shared.MAX_ATTEMPTS):
        sagemaker.describe("profile", UserSettings=kg())
        sagemaker.fails("update", "profile", "ResourceInUse", "Resource was modified concurrently", params)
    event = cfn.event("Create", cfn.props("profile"))

    body = cfn.send(event, remaining_ms=900_000)

    assert body["Status"] == "FAILED" and body["PhysicalResourceId"] == PROFILE_ID
    assert body["Reason"].startswith(
        f"User profile 'alice' of domain 'd-abc123xyz' still busy after {shared.MAX_ATTEMPTS} attempts: "
    )
    assert len(clock.sleeps) == shared.MAX_ATTEMPTS - 1
    sagemaker.done()


def test_resource_in_use_stops_before_the_lambda_deadline(cfn, sagemaker, clock, shared, monkeypatch):
    monkeypatch.setattr(shared.random, "uniform", lambda low, high: high)  # no jitter: delays 1, 2, 4, 8
    params = sagemaker.update_params("domain", {"DefaultUserSettings": kg()})
    for _ in range(4):  # 40 s left, 30 s margin: after sleeping 1+2+4 s, an 8 s sleep would overrun
        sagemaker.describe("domain", DefaultUserSettings=kg(listed()))
        sagemaker.fails("update", "domain", "ResourceInUse", "Resource was modified concurrently", params)
    event = cfn.event("Delete", cfn.props(), physical_id=DOMAIN_ID)

    body = cfn.send(event, remaining_ms=40_000)

    assert body["Status"] == "FAILED" and body["PhysicalResourceId"] == DOMAIN_ID
    assert "still busy after 4 attempts" in body["Reason"]
    assert clock.sleeps == [1.0, 2.0, 4.0]
    sagemaker.done()


# --- Bad input: refused before any call, the reason naming the property -----------------------------------


def _entry(**change: Any) -> dict[str, Any]:
    """The default entry, changed; a None value removes the field."""
    entry = {
        "Settings": "DefaultUserSettings",
        "AppType": "KernelGateway",
        "ImageName": IMAGE,
        "AppImageConfigName": CONFIG,
        **change,
    }
    return {k: v for k, v in entry.items() if v is not None}


def _props(kind: str = "domain", *entries: dict[str, Any], **change: Any) -> dict[str, Any]:
    """ResourceProperties of a kind (by default one entry), changed; a None value removes the key."""
    ids = {"profile": {"UserProfileName": "alice"}, "space": {"SpaceName": "team-space"}}.get(kind, {})
    settings = SETTINGS_OF[kind]
    props = {
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:studio",
        "DomainId": DOMAIN,
        **ids,
        "CustomImages": list(entries) or [_entry(Settings=settings)],
        **change,
    }
    return {k: v for k, v in props.items() if v is not None}


BAD_INPUT = [
    pytest.param(_props(DomainId=None), "DomainId is required", id="domain-missing"),
    pytest.param(_props(DomainId="D-ABC"), "DomainId 'D-ABC' is invalid", id="domain-upper"),
    pytest.param(_props(DomainId="d-"), "DomainId 'd-' is invalid", id="domain-empty-tail"),
    pytest.param(_props(DomainId="d-abc\n"), "DomainId 'd-abc\\n'", id="domain-newline"),
    pytest.param(_props(DomainId="d-" + "a" * 62), "DomainId 'd-aaaa", id="domain-64-chars"),
    pytest.param(_props(DomainId=123), "DomainId 123 is invalid", id="domain-number"),
    pytest.param(_props("profile", UserProfileName="-alice"), "UserProfileName '-alice'", id="profile-dash"),
    pytest.param(_props("profile", UserProfileName=""), "UserProfileName '' is invalid", id="profile-empty"),
    pytest.param(_props("space", SpaceName="tëam"), "SpaceName 'tëam'", id="space-non-ascii"),
    pytest.param(
        _props("profile", SpaceName="team-space"),
        "UserProfileName 'alice' and SpaceName 'team-space': give at most one",
        id="profile-and-space",
    ),
    pytest.param(_props(UserProfile="alice"), "Unknown properties ['UserProfile']", id="unknown-property"),
    pytest.param(_props(LedgerVersion="2"), "LedgerVersion '2' is not one this function", id="ledger-2"),
    pytest.param(_props(LedgerVersion=1), "LedgerVersion 1 is not one this function", id="ledger-number"),
    pytest.param(_props(LedgerVersion=""), "LedgerVersion '' is not one this function", id="ledger-empty"),
    pytest.param(
        _props(CustomImages=None),
        "CustomImages must be a list of 1 or more entries, got None",
        id="images-missing",
    ),
    pytest.param(
        _props(CustomImages=[]), "CustomImages must be a list of 1 or more entries, got []", id="images-empty"
    ),
    pytest.param(_props(CustomImages="my-image"), "CustomImages must be a list", id="images-string"),
    pytest.param(_props(CustomImages=["my-image"]), "CustomImages[0] must be an object", id="entry-string"),
    pytest.param(
        _props("domain", _entry(), _entry(Extra="x")),
        "Unknown fields ['Extra'] in CustomImages[1]",
        id="unknown-field",
    ),
    pytest.param(
        _props("domain", _entry(Settings="UserSettings")),
        "CustomImages[0].Settings 'UserSettings' is invalid for this target:"
        " use DefaultUserSettings, DefaultSpaceSettings",
        id="settings-not-a-domain-one",
    ),
    pytest.param(
        _props("profile", _entry()),
        "CustomImages[0].Settings 'DefaultUserSettings' is invalid for this target: use UserSettings",
        id="settings-domain-on-profile",
    ),
    pytest.param(
        _props("space", _entry(Settings="UserSettings")),
        "CustomImages[0].Settings 'UserSettings' is invalid for this target: use SpaceSettings",
        id="settings-profile-on-space",
    ),
    pytest.param(
        _props("domain", _entry(Settings=None)), "CustomImages[0].Settings None", id="settings-missing"
    ),
    pytest.param(
        _props("space", _entry(Settings="SpaceSettings", AppType="JupyterLab")),
        "CustomImages[0].AppType 'JupyterLab' has no CustomImages in SpaceSettings: use KernelGateway",
        id="space-jupyterlab",
    ),
    pytest.param(
        _props("space", _entry(Settings="SpaceSettings", AppType="CodeEditor")),
        "CustomImages[0].AppType 'CodeEditor' has no CustomImages in SpaceSettings",
        id="space-code-editor",
    ),
    pytest.param(
        _props("domain", _entry(Settings="DefaultSpaceSettings", AppType="CodeEditor")),
        "CustomImages[0].AppType 'CodeEditor' has no CustomImages in DefaultSpaceSettings:"
        " use KernelGateway, JupyterLab",
        id="default-space-code-editor",
    ),
    pytest.param(
        _props("domain", _entry(AppType="RStudioServerPro")), "AppType 'RStudioServerPro'", id="app-other"
    ),
    pytest.param(_props("domain", _entry(AppType="jupyterlab")), "AppType 'jupyterlab'", id="app-case"),
    pytest.param(_props("domain", _entry(AppType=None)), "CustomImages[0].AppType None", id="app-missing"),
    pytest.param(
        _props("domain", _entry(ImageName=None)), "CustomImages[0].ImageName is required", id="image-missing"
    ),
    pytest.param(
        _props("domain", _entry(ImageName="my_image")),
        "CustomImages[0].ImageName 'my_image'",
        id="image-underscore",
    ),
    pytest.param(_props("domain", _entry(ImageName="a..b")), "ImageName 'a..b'", id="image-double-dot"),
    pytest.param(_props("domain", _entry(ImageName="a" * 64)), "ImageName 'aaaa", id="image-64-chars"),
    pytest.param(
        _props("domain", _entry(AppImageConfigName=None)),
        "CustomImages[0].AppImageConfigName is required",
        id="config-missing",
    ),
    pytest.param(
        _props("domain", _entry(AppImageConfigName="my.config")),
        "AppImageConfigName 'my.config'",
        id="config-dot",
    ),
    pytest.param(
        _props("domain", _entry(ImageVersionNumber="0")),
        "ImageVersionNumber must be a positive integer, got '0'",
        id="version-zero",
    ),
    pytest.param(_props("domain", _entry(ImageVersionNumber="1.5")), "got '1.5'", id="version-fraction"),
    pytest.param(_props("domain", _entry(ImageVersionNumber="latest")), "got 'latest'", id="version-word"),
    pytest.param(_props("domain", _entry(ImageVersionNumber="")), "got ''", id="version-empty"),
    pytest.param(_props("domain", _entry(ImageVersionNumber=" 3")), "got ' 3'", id="version-blank"),
    pytest.param(
        _props("domain", _entry(ImageVersionNumber="\u0663")), "got '\u0663'", id="version-non-ascii"
    ),
    pytest.param(
        _props("domain", _entry(ImageVersionNumber="2147483648")), "got '2147483648'", id="version-too-big"
    ),
    pytest.param(_props("domain", _entry(ImageVersionNumber=True)), "got True", id="version-bool"),
    pytest.param(_props("domain", _entry(ImageVersionNumber=2.0)), "got 2.0", id="version-float"),
    pytest.param(
        _props("domain", _entry(), _entry(AppImageConfigName="other", ImageVersionNumber="2")),
        "CustomImages[1] repeats the key (Settings, AppType, ImageName)"
        " ('DefaultUserSettings', 'KernelGateway', 'my-image')",
        id="duplicate-key",
    ),
    pytest.param(
        _props("domain", *(_entry(ImageName=f"image-{n}") for n in range(201))),
        "CustomImages has 201 entries for DefaultUserSettings KernelGateway: SageMaker takes 200",
        id="over-200",
    ),
]


@pytest.mark.parametrize(("props", "named"), BAD_INPUT)
def test_bad_input_fails_at_once_naming_the_property(cfn, sagemaker, operations, props, named):
    event = cfn.event("Create", props)

    body = cfn.send(event)

    assert body["Status"] == "FAILED"
    assert named in body["Reason"]
    assert len(body["Reason"]) <= 256  # crhelper would cut a longer one from the front
    assert GENERATED_ID.fullmatch(body["PhysicalResourceId"])  # no target: nothing for a rollback to do
    assert operations == []
    sagemaker.done()


# 64 characters that SageMaker's pattern alone would pass (a '-' lets it repeat fewer times than the
# length): the length limit, 63 for each of them (botocore's model), must refuse them.
TOO_LONG = "a-" + "a" * 62


@pytest.mark.parametrize(
    ("props", "named", "value"),
    [
        pytest.param(_props(DomainId="d--" + "a" * 61), "DomainId", "d--" + "a" * 61, id="domain"),
        pytest.param(_props("profile", UserProfileName=TOO_LONG), "UserProfileName", TOO_LONG, id="profile"),
        pytest.param(_props("space", SpaceName=TOO_LONG), "SpaceName", TOO_LONG, id="space"),
        pytest.param(
            _props("domain", _entry(ImageName=TOO_LONG)), "CustomImages[0].ImageName", TOO_LONG, id="image"
        ),
        pytest.param(
            _props("domain", _entry(AppImageConfigName=TOO_LONG)),
            "CustomImages[0].AppImageConfigName",
            TOO_LONG,
            id="config",
        ),
    ],
)
def test_a_64_character_name_the_pattern_passes_is_refused_by_length(
    cfn, sagemaker, operations, props, named, value
):
    model = sagemaker.stubber.client.meta.service_model.shape_for(named.rsplit(".", 1)[-1]).metadata
    assert len(value) == 64 and model["max"] == 63
    assert re.fullmatch(model["pattern"], value)  # only the length refuses it
    event = cfn.event("Create", props)

    body = cfn.send(event)

    assert body["Status"] == "FAILED"
    assert body["Reason"].startswith(f"{named} {repr(value)[:57]}... is invalid: SageMaker wants ")
    assert len(body["Reason"]) <= 256
    assert GENERATED_ID.fullmatch(body["PhysicalResourceId"])
    assert operations == []
    sagemaker.done()


def test_the_same_image_in_other_settings_or_app_types_is_no_duplicate(index):
    entries = [
        _entry(),
        _entry(AppType="JupyterLab"),
        _entry(Settings="DefaultSpaceSettings"),
        *(_entry(ImageName=f"image-{n}") for n in range(199)),  # 200 on DefaultUserSettings KernelGateway
    ]
    _, parsed = index._parse(_props("domain", *entries))
    assert len(parsed) == 202


@pytest.mark.parametrize(
    ("kind", "change", "entry", "shown"),
    [
        ("domain", {"DomainId": "d-" + "a" * 61}, _entry(), listed()),
        ("profile", {"UserProfileName": "A" * 63}, _entry(Settings="UserSettings"), listed()),
        ("space", {"SpaceName": "a--b"}, _entry(Settings="SpaceSettings"), listed()),
        ("domain", {}, _entry(ImageName="a" * 63), listed(image="a" * 63)),
        ("domain", {}, _entry(ImageName="my.image-2"), listed(image="my.image-2")),
        ("domain", {}, _entry(AppImageConfigName="c" * 63), listed(config="c" * 63)),
        ("domain", {}, _entry(ImageVersionNumber=7), listed(version=7)),
        ("domain", {}, _entry(ImageVersionNumber="2147483647"), listed(version=2147483647)),
        ("domain", {}, _entry(ImageVersionNumber="007"), listed(version=7)),
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
    ],
)
def test_edge_values_are_accepted(cfn, sagemaker, kind, change, entry, shown):
    props = _props(kind, entry, **change)
    ids = {
        "DomainId": props["DomainId"],
        **{k: props[k] for k in ("UserProfileName", "SpaceName") if k in props},
    }
    method = {"domain": "domain", "profile": "user_profile", "space": "space"}[kind]
    written = {entry["Settings"]: {"KernelGatewayAppSettings": {"CustomImages": [shown]}}}
    sagemaker.stubber.add_response(f"describe_{method}", {"Status": "InService"}, ids)
    sagemaker.stubber.add_response(f"update_{method}", {}, {**ids, **written})
    sagemaker.stubber.add_response(f"describe_{method}", {"Status": "InService", **written}, ids)

    assert cfn.send(cfn.event("Create", props))["Status"] == "SUCCESS"
    sagemaker.done()


# --- The contract with the construct ------------------------------------------------------------------------


def test_parse_returns_the_target_and_the_entries_in_order(index):
    target, entries = index._parse(
        _props(
            "profile",
            _entry(Settings="UserSettings", ImageVersionNumber="3"),
            _entry(Settings="UserSettings", AppType="CodeEditor"),
        )
    )
    assert (target.domain_id, target.profile, target.space) == (DOMAIN, "alice", None)
    assert [(e.settings, e.app_type, e.image, e.config, e.version) for e in entries] == [
        ("UserSettings", "KernelGateway", IMAGE, CONFIG, 3),
        ("UserSettings", "CodeEditor", IMAGE, CONFIG, None),
    ]
    assert index.APP_TYPES == ("KernelGateway", "JupyterLab", "CodeEditor")
    assert index.APP_TYPES_IN == {
        "DefaultUserSettings": ("KernelGateway", "JupyterLab", "CodeEditor"),
        "DefaultSpaceSettings": ("KernelGateway", "JupyterLab"),
        "UserSettings": ("KernelGateway", "JupyterLab", "CodeEditor"),
        "SpaceSettings": ("KernelGateway",),
    }


def test_sagemaker_actions_are_exactly_the_operations_called(cfn, sagemaker, operations, index):
    """The IAM policy grants SAGEMAKER_ACTIONS; the code must need all of them and nothing else."""
    for kind in ("domain", "profile", "space"):
        settings = SETTINGS_OF[kind]
        rmw(sagemaker, kind, {}, {settings: bare(listed())})
        assert cfn.send(cfn.event("Create", cfn.props(kind)))["Status"] == "SUCCESS"

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
