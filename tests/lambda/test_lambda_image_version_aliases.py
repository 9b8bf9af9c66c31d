"""Unit tests of the image-version-aliases custom resource, one per semantic, SageMaker stubbed.

Each test queues the exact SageMaker calls the semantic requires (the Stubber checks order and params)
and asserts the response crhelper PUT to the (local HTTPS) ResponseURL.
"""

from __future__ import annotations

import re
import time
from types import ModuleType
from typing import Any

import pytest

IMAGE = "my-image"  # the conftest helpers' default image
GENERATED_ID = re.compile(r"images-stack_LatestAliases_[A-Z0-9]{8}")  # crhelper's id for a failed Create


def test_create_adds_free_aliases_and_answers_deterministic_id(cfn, sagemaker):
    sagemaker.lists(3, [])
    sagemaker.holder("latest", None)
    sagemaker.holder("stable", None)
    sagemaker.update(3, add=["latest", "stable"])
    event = cfn.event("Create", cfn.props(3, ["latest", "stable"]))

    assert cfn.send(event) == cfn.expected(event, "SUCCESS", "my-image/3/aliases")
    sagemaker.done()


def test_create_moves_aliases_from_their_holders_and_leaves_its_own_alone(cfn, sagemaker):
    sagemaker.lists(3, ["latest"])  # already here: not described, not re-added
    sagemaker.holder("stable", 2)
    sagemaker.holder("gpu", 1)
    sagemaker.holder("cpu", 2)
    sagemaker.holder("new", None)
    sagemaker.update(2, delete=["stable", "cpu"])  # removed from each holder first ...
    sagemaker.update(1, delete=["gpu"])
    sagemaker.update(3, add=["stable", "gpu", "cpu", "new"])  # ... then added here
    event = cfn.event("Create", cfn.props(3, ["latest", "stable", "gpu", "cpu", "new", "stable"]))

    assert cfn.send(event) == cfn.expected(event, "SUCCESS", "my-image/3/aliases")
    sagemaker.done()


def test_retried_create_answers_same_id_and_changes_nothing(cfn, sagemaker):
    sagemaker.lists(3, [])
    sagemaker.holder("latest", 2)
    sagemaker.update(2, delete=["latest"])
    sagemaker.update(3, add=["latest"])
    sagemaker.lists(3, ["latest", "owned-by-image-version"])  # the retry: nothing left to do
    first = cfn.event("Create", cfn.props(3, ["latest"]))
    retry = cfn.event("Create", cfn.props(3, ["latest"]))

    assert cfn.send(first)["PhysicalResourceId"] == "my-image/3/aliases"
    assert cfn.send(retry) == cfn.expected(retry, "SUCCESS", "my-image/3/aliases")
    sagemaker.done()


def test_alias_found_on_this_version_by_describe_is_not_moved_or_re_added(cfn, sagemaker):
    sagemaker.lists(3, [])  # listed just before a concurrent change put "latest" here
    sagemaker.holder("latest", 3)
    sagemaker.holder("stable", None)
    sagemaker.update(3, add=["stable"])
    event = cfn.event("Create", cfn.props(3, ["latest", "stable"]))

    assert cfn.send(event) == cfn.expected(event, "SUCCESS", "my-image/3/aliases")
    sagemaker.done()


def test_list_aliases_follows_next_token(cfn, sagemaker):
    sagemaker.lists(3, ["a"], next_token="page-2")
    sagemaker.lists(3, ["b"], token="page-2", next_token="page-3")
    sagemaker.lists(3, ["c"], token="page-3")
    sagemaker.holder("d", None)
    sagemaker.update(3, add=["d"])  # a, b and c were found on later pages: not re-added
    event = cfn.event("Create", cfn.props(3, ["a", "b", "c", "d"]))

    assert cfn.send(event)["Status"] == "SUCCESS"
    sagemaker.done()


def test_delete_follows_next_token(cfn, sagemaker):
    sagemaker.lists(3, ["a"], next_token="t2")
    sagemaker.lists(3, ["x"], token="t2", next_token="t3")
    sagemaker.lists(3, ["c"], token="t3")
    sagemaker.update(3, delete=["a", "c"])
    event = cfn.event("Delete", cfn.props(3, ["a", "c"]), physical_id="my-image/3/aliases")

    assert cfn.send(event) == cfn.expected(event, "SUCCESS", "my-image/3/aliases")
    sagemaker.done()


def test_update_same_version_adds_moves_and_removes_dropped_aliases_it_holds(cfn, sagemaker):
    # Old list: latest, stable, nightly. New: latest, prod, edge. "nightly" moved away meanwhile;
    # "foreign" belongs to the ImageVersion resource itself and is in neither list.
    sagemaker.lists(3, ["latest", "stable", "foreign"])
    sagemaker.holder("prod", 2)
    sagemaker.holder("edge", None)
    sagemaker.update(2, delete=["prod"])
    sagemaker.update(3, add=["prod", "edge"], delete=["stable"])
    event = cfn.event(
        "Update",
        cfn.props(3, ["latest", "prod", "edge"]),
        physical_id="my-image/3/aliases",
        old=cfn.props(3, ["latest", "stable", "nightly"]),
    )

    assert cfn.send(event) == cfn.expected(event, "SUCCESS", "my-image/3/aliases")
    sagemaker.done()


def test_update_that_only_changes_config_digest_calls_no_update(cfn, sagemaker):
    sagemaker.lists(3, ["latest"])
    event = cfn.event(
        "Update",
        cfn.props(3, ["latest"], ConfigDigest="new-digest"),
        physical_id="my-image/3/aliases",
        old=cfn.props(3, ["latest"], ConfigDigest="old-digest"),
    )

    assert cfn.send(event) == cfn.expected(event, "SUCCESS", "my-image/3/aliases")
    sagemaker.done()


def test_replacement_claims_on_new_version_and_old_delete_keeps_moved_aliases(cfn, sagemaker):
    old = cfn.props(3, ["latest", "stable"])
    # Update to version 4: claim there (moving "latest" off 3); "stable", dropped, is not removed from 3,
    # nor from 4, where the new ImageVersion's own Aliases put it.
    sagemaker.lists(4, ["stable"])
    sagemaker.holder("latest", 3)
    sagemaker.update(3, delete=["latest"])
    sagemaker.update(4, add=["latest"])
    update = cfn.event("Update", cfn.props(4, ["latest"]), physical_id="my-image/3/aliases", old=old)
    assert cfn.send(update) == cfn.expected(update, "SUCCESS", "my-image/4/aliases")
    sagemaker.done()

    # CloudFormation then deletes the old id: only what version 3 still holds goes.
    sagemaker.lists(3, ["stable", "foreign"])
    sagemaker.update(3, delete=["stable"])
    delete = cfn.event("Delete", old, physical_id="my-image/3/aliases")
    assert cfn.send(delete) == cfn.expected(delete, "SUCCESS", "my-image/3/aliases")
    sagemaker.done()


def test_update_to_another_image_claims_there_without_touching_the_old(cfn, sagemaker):
    sagemaker.lists(1, [], image="other-image")
    sagemaker.holder("latest", None, image="other-image")
    sagemaker.update(1, add=["latest"], image="other-image")
    event = cfn.event(
        "Update",
        cfn.props(1, ["latest"], image="other-image"),
        physical_id="my-image/3/aliases",
        old=cfn.props(3, ["latest", "stable"]),
    )

    assert cfn.send(event) == cfn.expected(event, "SUCCESS", "other-image/1/aliases")
    sagemaker.done()


def test_delete_removes_only_listed_aliases_the_version_still_holds(cfn, sagemaker):
    sagemaker.lists(3, ["stable", "latest", "foreign"])
    sagemaker.update(3, delete=["latest", "stable"])
    event = cfn.event(
        "Delete", cfn.props(3, ["latest", "stable", "moved-away"]), physical_id="my-image/3/aliases"
    )

    assert cfn.send(event) == cfn.expected(event, "SUCCESS", "my-image/3/aliases")
    sagemaker.done()


def test_delete_when_all_aliases_moved_away_calls_no_update(cfn, sagemaker):
    sagemaker.lists(3, ["foreign"])
    event = cfn.event("Delete", cfn.props(3, ["latest"]), physical_id="my-image/3/aliases")

    assert cfn.send(event) == cfn.expected(event, "SUCCESS", "my-image/3/aliases")
    sagemaker.done()


@pytest.mark.parametrize("gone_at", ["list_aliases", "update_image_version"])
def test_delete_of_missing_image_or_version_succeeds(cfn, sagemaker, gone_at):
    if gone_at == "list_aliases":
        list_params = {"ImageName": IMAGE, "Version": 3, "MaxResults": 100}
        sagemaker.error("list_aliases", "ResourceNotFound", list_params, "Image version 3 does not exist.")
    else:
        sagemaker.lists(3, ["latest"])
        params = sagemaker.update_params(3, delete=["latest"])
        sagemaker.error("update_image_version", "ResourceNotFound", params, "Image does not exist.")
    event = cfn.event("Delete", cfn.props(3, ["latest"]), physical_id="my-image/3/aliases")

    assert cfn.send(event) == cfn.expected(event, "SUCCESS", "my-image/3/aliases")
    sagemaker.done()


def test_rollback_delete_of_failed_create_succeeds_quickly_and_calls_nothing(
    cfn, sagemaker, operations, crhelper_sleeps
):
    foreign_id = "images-stack_LatestAliases_Q7W3ZK1P"
    event = cfn.event("Delete", cfn.props(3, ["latest"]), physical_id=foreign_id)

    started = time.monotonic()
    body = cfn.send(event, remaining_ms=900_000)  # crhelper's default would sleep 120 s here

    assert crhelper_sleeps == []
    assert time.monotonic() - started < 10
    assert body == cfn.expected(event, "SUCCESS", foreign_id)
    assert operations == []
    sagemaker.done()


def test_resource_in_use_is_retried_with_growing_jittered_backoff(cfn, sagemaker, clock):
    list_params = {"ImageName": IMAGE, "Version": 3, "MaxResults": 100}
    sagemaker.error("list_aliases", "ResourceInUse", list_params, "Image version 3 is in CREATING state.")
    sagemaker.lists(3, [])
    sagemaker.holder("latest", None)
    update = sagemaker.update_params(3, add=["latest"])
    sagemaker.error("update_image_version", "ResourceInUse", update, "Resource was modified concurrently")
    sagemaker.error("update_image_version", "ResourceInUse", update, "Resource was modified concurrently")
    sagemaker.update(3, add=["latest"])
    event = cfn.event("Create", cfn.props(3, ["latest"]))

    assert cfn.send(event) == cfn.expected(event, "SUCCESS", "my-image/3/aliases")
    first, second, third = clock.sleeps  # attempts count per call; the time budget is per invocation
    assert 0.5 <= first <= 1.0 and 0.5 <= second <= 1.0 and 1.0 <= third <= 2.0
    sagemaker.done()


def test_resource_in_use_gives_up_after_max_attempts_with_clear_reason(cfn, sagemaker, clock, shared):
    sagemaker.lists(3, [])
    sagemaker.holder("latest", None)
    update = sagemaker.update_params(3, add=["latest"])
    for _ in range(shared.MAX_ATTEMPTS):
        sagemaker.error("update_image_version", "ResourceInUse", update, "Resource was modified concurrently")
    event = cfn.event("Create", cfn.props(3, ["latest"]))

    body = cfn.send(event, remaining_ms=900_000)

    assert body["Status"] == "FAILED"
    assert GENERATED_ID.fullmatch(body["PhysicalResourceId"])
    assert "ResourceInUse" in body["Reason"] and "'my-image'" in body["Reason"]
    assert f"{shared.MAX_ATTEMPTS} attempts" in body["Reason"]
    assert "modified concurrently" in body["Reason"]
    assert len(body["Reason"]) <= 256  # else crhelper cuts it from the front
    assert len(clock.sleeps) == shared.MAX_ATTEMPTS - 1
    assert all(0 < s <= shared.MAX_DELAY_SECONDS for s in clock.sleeps)
    assert sum(clock.sleeps) <= shared.MAX_RETRY_SECONDS
    sagemaker.done()


def test_resource_in_use_stops_before_the_lambda_deadline(cfn, sagemaker, clock, shared, monkeypatch):
    monkeypatch.setattr(shared.random, "uniform", lambda low, high: high)  # no jitter: delays 1, 2, 4, 8
    # 40 s left minus the 30 s safety margin: after sleeping 1+2+4 s, an 8 s sleep would overrun.
    assert shared.SAFETY_MARGIN_SECONDS == 30
    update = sagemaker.update_params(3, delete=["latest"])
    sagemaker.lists(3, ["latest"])
    for _ in range(4):
        sagemaker.error("update_image_version", "ResourceInUse", update, "Resource was modified concurrently")
    event = cfn.event("Delete", cfn.props(3, ["latest"]), physical_id="my-image/3/aliases")

    body = cfn.send(event, remaining_ms=40_000)

    assert body["Status"] == "FAILED" and body["PhysicalResourceId"] == "my-image/3/aliases"
    assert "4 attempts" in body["Reason"]
    assert clock.sleeps == [1.0, 2.0, 4.0]
    sagemaker.done()


def test_resource_in_use_retries_stop_at_the_absolute_cap(cfn, sagemaker, clock, index, shared, monkeypatch):
    monkeypatch.setattr(shared.random, "uniform", lambda low, high: high)  # no jitter: delays 1, 2, 4, 8, 16
    assert shared.MAX_RETRY_SECONDS == 180
    # Each call takes 30 s (think botocore retrying throttling inside it); 15 minutes are left.
    update = sagemaker.update_params(3, delete=["latest"])
    sagemaker.lists(3, ["latest"])  # t = 30
    for _ in range(5):  # calls end at t = 60, 91, 123, 157, 195: a 16 s sleep then would pass 180
        sagemaker.error("update_image_version", "ResourceInUse", update, "Resource was modified concurrently")
    event = cfn.event("Delete", cfn.props(3, ["latest"]), physical_id="my-image/3/aliases")

    events, hook = index.sagemaker().meta.events, "before-parameter-build.sagemaker"
    events.register(hook, lambda **_: setattr(clock, "now", clock.now + 30), unique_id="slow-calls")
    try:
        body = cfn.send(event, remaining_ms=900_000)
    finally:
        events.unregister(hook, unique_id="slow-calls")

    assert body["Status"] == "FAILED" and "5 attempts" in body["Reason"]
    assert clock.sleeps == [1.0, 2.0, 4.0, 8.0]
    sagemaker.done()


def _without(key: str) -> dict[str, Any]:
    return {key: None}


BAD_INPUT = [
    pytest.param(_without("ImageName"), "ImageName is required", id="missing-image-name"),
    pytest.param({"ImageName": "bad_name!"}, "'bad_name!'", id="bad-image-name"),
    pytest.param({"Aliases": "latest"}, "got 'latest'", id="aliases-a-string"),
    pytest.param(_without("Aliases"), "Aliases must be a list of strings, got None", id="aliases-missing"),
    pytest.param({"Aliases": ["ok", ["nested"]]}, "got ['ok', ['nested']]", id="aliases-not-strings"),
    pytest.param({"Aliases": ["ok", "-dash"]}, "'-dash'", id="alias-leading-dash"),
    pytest.param({"Aliases": [".dot"]}, "'.dot'", id="alias-leading-dot"),
    pytest.param({"Aliases": ["has space"]}, "'has space'", id="alias-space"),
    pytest.param({"Aliases": [""]}, "Alias '' is invalid", id="alias-empty"),
    pytest.param({"Aliases": ["a" * 129]}, "'aaaaaaaaaaaaaaaaaaaa", id="alias-too-long"),
    pytest.param({"Aliases": ["café"]}, "'café'", id="alias-non-ascii"),
    pytest.param({"Aliases": ["line\n"]}, "'line\\n'", id="alias-trailing-newline"),
    pytest.param({"Version": "0"}, "got '0'", id="version-zero"),
    pytest.param({"Version": "-1"}, "got '-1'", id="version-negative"),
    pytest.param({"Version": "1.5"}, "got '1.5'", id="version-fraction"),
    pytest.param({"Version": "latest"}, "got 'latest'", id="version-word"),
    pytest.param({"Version": "\u0663"}, "got '\u0663'", id="version-non-ascii-digit"),
    pytest.param(_without("Version"), "got None", id="version-missing"),
]


@pytest.mark.parametrize(("change", "named"), BAD_INPUT)
def test_bad_input_fails_at_once_naming_the_value(cfn, sagemaker, operations, change, named):
    properties = cfn.props(3, ["latest"])
    properties.update(change)
    properties = {k: v for k, v in properties.items() if v is not None}
    event = cfn.event("Create", properties)

    body = cfn.send(event)

    assert body["Status"] == "FAILED"
    assert named in body["Reason"]
    assert len(body["Reason"]) <= 256  # crhelper would cut a longer one from the front
    assert GENERATED_ID.fullmatch(body["PhysicalResourceId"])
    assert operations == []
    sagemaker.done()


def test_alias_of_128_characters_is_accepted(cfn, sagemaker):
    alias = "A1-_." * 25 + "xyz"
    assert len(alias) == 128
    sagemaker.lists(3, [alias])
    event = cfn.event("Create", cfn.props(3, [alias]))

    assert cfn.send(event)["Status"] == "SUCCESS"
    sagemaker.done()


def test_bad_input_on_update_fails_and_keeps_the_old_id(cfn, sagemaker, operations):
    event = cfn.event(
        "Update", cfn.props(4, ["ok", "-bad"]), physical_id="my-image/3/aliases", old=cfn.props(3, ["ok"])
    )

    body = cfn.send(event)

    assert body["Status"] == "FAILED" and body["PhysicalResourceId"] == "my-image/3/aliases"
    assert "'-bad'" in body["Reason"]
    assert operations == []
    sagemaker.done()


@pytest.mark.parametrize("request_type", ["Create", "Update"])
def test_missing_image_or_version_fails_create_and_update_naming_them(cfn, sagemaker, request_type):
    params = {"ImageName": "no-such-image", "Version": 1, "MaxResults": 100}
    sagemaker.error("list_aliases", "ResourceNotFound", params, "Image no-such-image does not exist.")
    update = (
        {"physical_id": "no-such-image/1/aliases", "old": cfn.props(1, [])}
        if request_type == "Update"
        else {}
    )
    event = cfn.event(request_type, cfn.props(1, ["latest"], image="no-such-image"), **update)

    body = cfn.send(event)

    assert body["Status"] == "FAILED"
    assert "'no-such-image'" in body["Reason"] and "version 1" in body["Reason"]
    assert "does not exist" in body["Reason"]
    sagemaker.done()


def test_unexpected_sagemaker_error_fails_with_its_message(cfn, sagemaker):
    params = {"ImageName": IMAGE, "Version": 3, "MaxResults": 100}
    sagemaker.error("list_aliases", "AccessDeniedException", params, "not authorized to perform ListAliases")
    event = cfn.event("Create", cfn.props(3, ["latest"]))

    body = cfn.send(event)

    assert body["Status"] == "FAILED"
    assert "AccessDeniedException" in body["Reason"] and "ListAliases" in body["Reason"]
    sagemaker.done()


def test_sagemaker_actions_are_exactly_the_operations_called(cfn, sagemaker, operations, index: ModuleType):
    """The IAM policy grants SAGEMAKER_ACTIONS; the code must need all of them and nothing else.

    (Every test in this folder also checks, in the `operations` fixture, that nothing else is called.)
    """
    sagemaker.lists(3, [])
    sagemaker.holder("latest", 2)
    sagemaker.update(2, delete=["latest"])
    sagemaker.update(3, add=["latest"])
    sagemaker.lists(3, ["latest", "stable"])
    sagemaker.update(3, delete=["stable"])
    sagemaker.lists(3, ["latest"])
    sagemaker.update(3, delete=["latest"])
    scenarios = [
        cfn.event("Create", cfn.props(3, ["latest"])),
        cfn.event(
            "Update", cfn.props(3, ["latest"]), physical_id="my-image/3/aliases", old=cfn.props(3, ["stable"])
        ),
        cfn.event("Delete", cfn.props(3, ["latest"]), physical_id="my-image/3/aliases"),
    ]
    for event in scenarios:
        assert cfn.send(event)["Status"] == "SUCCESS"

    assert len(index.SAGEMAKER_ACTIONS) == len(set(index.SAGEMAKER_ACTIONS))
    assert {f"sagemaker:{name}" for name in operations} == set(index.SAGEMAKER_ACTIONS)
    sagemaker.done()


def test_client_and_crhelper_are_configured_for_lambda(index: ModuleType):
    assert index.sagemaker().meta.config.retries["mode"] in ("standard", "adaptive")
    assert index.sagemaker().meta.service_model.service_name == "sagemaker"
    # crhelper's polling would need CloudWatch Events rules and lambda:AddPermission: none registered.
    helper = index.helper
    assert (helper._poll_create_func, helper._poll_update_func, helper._poll_delete_func) == (
        None,
        None,
        None,
    )
