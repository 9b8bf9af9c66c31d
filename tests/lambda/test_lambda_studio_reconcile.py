"""The scheduled reconciliation: an EventBridge event, not CloudFormation's; no answer is PUT anywhere.

For each target the run reads the ledger (moto's Parameter Store) and writes the stack's declared
entries that are missing (SageMaker stubbed): one Update* at most, none when nothing is missing, never a
removal. Each restore prints one Embedded Metric Format line on stdout.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
import time
from typing import Any

import pytest
from ledger_entries import declared, listed

HANDLER = "studio_custom_images"  # conftest: index, sagemaker and cfn follow this handler

DOMAIN = "d-abc123xyz"
DOMAIN_ID = f"{DOMAIN}/domain"
PROFILE_ID = f"{DOMAIN}/user-profile/alice"
SPACE_ID = f"{DOMAIN}/space/team-space"
STACK = (
    "arn:aws:cloudformation:us-east-1:123456789012:stack/images-stack/6c0a4e70-1f2b-11ef-9d3e-0a1b2c3d4e5f"
)
TEAM_STACK = (
    "arn:aws:cloudformation:us-east-1:123456789012:stack/team-stack/0f0e0d0c-0000-4000-8000-000000000001"
)
LOGICAL = "StudioImages"
SPEC = {"InstanceType": "ml.t3.medium"}
OTHER = {"ImageName": "team-image", "AppImageConfigName": "team-config", "ImageVersionNumber": 2}


class Context:
    def __init__(self, remaining_ms: int = 630_000) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def app(*images: dict[str, Any]) -> dict[str, Any]:
    return {"DefaultResourceSpec": SPEC, "CustomImages": list(images)}


def event(*targets: str, stack_id: str = STACK) -> dict[str, Any]:
    return {"SageMakerImageConstructs": "reconcile", "StackId": stack_id, "Targets": list(targets)}


def emf_lines(captured: str) -> list[dict[str, Any]]:
    """The stdout lines that are EMF documents (every one must be a whole JSON line)."""
    return [json.loads(line) for line in captured.splitlines() if line.startswith('{"_aws"')]


@pytest.fixture
def run(index: Any, cfn_endpoint: Any) -> Any:
    def invoke(payload: dict[str, Any], remaining_ms: int = 630_000) -> Any:
        answered = len(cfn_endpoint.received)
        summary = index.handler(payload, Context(remaining_ms))
        assert len(cfn_endpoint.received) == answered  # not CloudFormation's: nothing is PUT
        return summary

    return invoke


def test_restores_the_missing_entries_with_one_update_and_keeps_the_others(
    run, sagemaker, ssm, operations, capsys
):
    ssm.seed(
        DOMAIN_ID,
        STACK,
        LOGICAL,
        [declared(version=3), declared("lab-image", "lab-config", app_type="JupyterLab")],
    )
    before = {
        "DefaultUserSettings": {
            "KernelGatewayAppSettings": app(OTHER),  # ours dropped by another writer
            "JupyterLabAppSettings": app(listed("lab-image", "lab-config", 7)),  # ours, as declared
        }
    }
    restored = {"DefaultUserSettings": {"KernelGatewayAppSettings": app(OTHER, listed(version=3))}}
    sagemaker.describe("domain", **before)
    sagemaker.update("domain", restored)
    sagemaker.describe(
        "domain", DefaultUserSettings={**before["DefaultUserSettings"], **restored["DefaultUserSettings"]}
    )

    summary = run(event(DOMAIN_ID))

    assert summary == {"Restored": {DOMAIN_ID: 1}, "Skipped": {}, "Failed": {}}
    assert operations == ["DescribeDomain", "UpdateDomain", "DescribeDomain"]
    assert ssm.operations == ["GetParametersByPath"]
    (line,) = emf_lines(capsys.readouterr().out)
    assert line["Target"] == DOMAIN_ID and line["EntriesRestored"] == 1 and line["StackId"] == STACK
    sagemaker.done()


def test_a_second_run_writes_nothing(run, sagemaker, ssm, operations, capsys):
    ssm.seed(DOMAIN_ID, STACK, LOGICAL, [declared(version=3)])
    sagemaker.describe(
        "domain", DefaultUserSettings={"KernelGatewayAppSettings": app(OTHER, listed(version=3))}
    )

    assert run(event(DOMAIN_ID)) == {"Restored": {DOMAIN_ID: 0}, "Skipped": {}, "Failed": {}}
    assert operations == ["DescribeDomain"]
    assert emf_lines(capsys.readouterr().out) == []
    sagemaker.done()


def test_an_unpinned_entry_shown_with_a_number_is_not_missing(run, sagemaker, ssm, operations):
    ssm.seed(PROFILE_ID, STACK, LOGICAL, [declared(settings="UserSettings")])
    sagemaker.describe("profile", UserSettings={"KernelGatewayAppSettings": app(listed(version=9))})

    assert run(event(PROFILE_ID))["Restored"] == {PROFILE_ID: 0}
    assert operations == ["DescribeUserProfile"]
    sagemaker.done()


@pytest.mark.parametrize("whose", ["none", "another-stack"])
def test_nothing_for_a_stack_whose_records_are_gone(run, sagemaker, ssm, operations, whose):
    if whose == "another-stack":
        ssm.seed(DOMAIN_ID, TEAM_STACK, "TeamImages", [declared()])

    summary = run(event(DOMAIN_ID))

    assert summary["Restored"] == {} and summary["Failed"] == {}
    assert summary["Skipped"][DOMAIN_ID].startswith("no ledger record of this stack")
    assert operations == [] and ssm.operations == ["GetParametersByPath"]
    sagemaker.done()


def test_every_record_of_the_stack_counts_whatever_its_logical_id(run, sagemaker, ssm):
    ssm.seed(DOMAIN_ID, STACK, "Renamed", [declared("a", "ca")])
    ssm.seed(DOMAIN_ID, STACK, LOGICAL, [declared("b", "cb")])
    sagemaker.describe("domain", DefaultUserSettings={"KernelGatewayAppSettings": app()})
    sagemaker.update(
        "domain",
        {"DefaultUserSettings": {"KernelGatewayAppSettings": app(listed("a", "ca"), listed("b", "cb"))}},
    )
    sagemaker.describe(
        "domain",
        **{"DefaultUserSettings": {"KernelGatewayAppSettings": app(listed("a", "ca"), listed("b", "cb"))}},
    )

    assert run(event(DOMAIN_ID))["Restored"] == {DOMAIN_ID: 2}
    sagemaker.done()


def test_it_never_removes_and_keeps_what_others_declare(run, sagemaker, ssm, operations):
    """Another stack's entry and a hand-made one stay; an entry declared differently by another stack
    (two deploys that raced) is not fought over."""
    ssm.seed(DOMAIN_ID, STACK, LOGICAL, [declared(), declared("raced", "ours", 1)])
    ssm.seed(
        DOMAIN_ID,
        TEAM_STACK,
        "TeamImages",
        [declared("team-image", "team-config", 2), declared("raced", "theirs", 1)],
    )
    before = {
        "DefaultUserSettings": {
            "KernelGatewayAppSettings": app(OTHER, listed("hand-made", "h"), listed("raced", "theirs", 1))
        }
    }
    written = {
        "DefaultUserSettings": {
            "KernelGatewayAppSettings": app(
                OTHER, listed("hand-made", "h"), listed("raced", "theirs", 1), listed()
            )
        }
    }
    sagemaker.describe("domain", **before)
    sagemaker.update("domain", written)
    sagemaker.describe("domain", **written)

    assert run(event(DOMAIN_ID))["Restored"] == {DOMAIN_ID: 1}
    sagemaker.done()


def test_updating_past_the_target_s_budget_is_left_to_the_next_run(run, sagemaker, ssm, clock, index, caplog):
    ssm.seed(DOMAIN_ID, STACK, LOGICAL, [declared()])
    ssm.seed(PROFILE_ID, STACK, LOGICAL, [declared(settings="UserSettings")])
    for _ in range(7):  # polls 2, 4, 8, 15, 15, 15 s: 59 s; another 15 s would pass the target's 60 s
        sagemaker.describe("domain", status="Updating")
    sagemaker.describe("profile", UserSettings={"KernelGatewayAppSettings": app(listed())})
    caplog.set_level(logging.INFO)

    summary = run(event(DOMAIN_ID, PROFILE_ID))

    assert summary["Skipped"] == {
        DOMAIN_ID: "Domain 'd-abc123xyz' is still Updating after 59 s: gave up waiting for InService"
    }
    assert summary["Restored"] == {PROFILE_ID: 0}
    assert clock.sleeps == [2.0, 4.0, 8.0, 15.0, 15.0, 15.0]
    assert f"{DOMAIN_ID}: skipped: Domain 'd-abc123xyz' is still Updating" in caplog.text
    sagemaker.done()


def test_update_failed_is_written(run, sagemaker, ssm, operations):
    ssm.seed(SPACE_ID, STACK, LOGICAL, [declared(settings="SpaceSettings")])
    sagemaker.describe(
        "space",
        status="Update_Failed",
        failure="Earlier trouble",
        SpaceSettings={"KernelGatewayAppSettings": app()},
    )
    sagemaker.update("space", {"SpaceSettings": {"KernelGatewayAppSettings": app(listed())}})
    sagemaker.describe("space", **{"SpaceSettings": {"KernelGatewayAppSettings": app(listed())}})

    assert run(event(SPACE_ID))["Restored"] == {SPACE_ID: 1}
    assert operations == ["DescribeSpace", "UpdateSpace", "DescribeSpace"]
    sagemaker.done()


@pytest.mark.parametrize("status", ["Failed", "Deleting", "Delete_Failed", "not-found"])
def test_a_target_in_another_status_is_skipped(run, sagemaker, ssm, operations, status):
    ssm.seed(DOMAIN_ID, STACK, LOGICAL, [declared()])
    if status == "not-found":
        sagemaker.fails("describe", "domain", "ResourceNotFound", "Cannot find the resource.")
    else:
        sagemaker.describe(
            "domain",
            status=status,
            failure="Subnet gone",
            DefaultUserSettings={"KernelGatewayAppSettings": app()},
        )

    summary = run(event(DOMAIN_ID))

    assert summary["Restored"] == {} and summary["Failed"] == {}
    expected = "was not found" if status == "not-found" else f"is {status}: Subnet gone"
    assert expected in summary["Skipped"][DOMAIN_ID]
    assert operations == ["DescribeDomain"]
    sagemaker.done()


def test_a_target_s_failure_is_logged_and_the_run_goes_on(run, sagemaker, ssm, caplog, capsys):
    ssm.seed(DOMAIN_ID, STACK, LOGICAL, [declared()])
    ssm.seed(PROFILE_ID, STACK, LOGICAL, [declared(settings="UserSettings")])
    ssm.put(f"/sagemaker-image-constructs/studio/{SPACE_ID}/{'0' * 16}/0", "{damaged")
    sagemaker.describe("domain", DefaultUserSettings={"KernelGatewayAppSettings": app()})
    params = sagemaker.update_params(
        "domain", {"DefaultUserSettings": {"KernelGatewayAppSettings": app(listed())}}
    )
    sagemaker.fails("update", "domain", "ValidationException", "Image my-image does not exist.", params)
    sagemaker.describe("profile", UserSettings={"KernelGatewayAppSettings": app()})
    sagemaker.update("profile", {"UserSettings": {"KernelGatewayAppSettings": app(listed())}})
    sagemaker.describe("profile", **{"UserSettings": {"KernelGatewayAppSettings": app(listed())}})
    caplog.set_level(logging.INFO)

    summary = run(event(DOMAIN_ID, SPACE_ID, PROFILE_ID, "not/a/target"))

    assert summary["Restored"] == {PROFILE_ID: 1}
    assert set(summary["Failed"]) == {DOMAIN_ID, SPACE_ID}
    assert "Image my-image does not exist." in summary["Failed"][DOMAIN_ID]
    assert "does not decode" in summary["Failed"][SPACE_ID]
    assert summary["Skipped"] == {"not/a/target": "not a target's physical id"}
    assert "reconcile failed" in caplog.text
    assert [line["Target"] for line in emf_lines(capsys.readouterr().out)] == [PROFILE_ID]
    sagemaker.done()


def test_resource_in_use_reruns_the_whole_cycle_ledger_read_included(
    run, sagemaker, ssm, clock, monkeypatch, shared
):
    """A deploy changed the record (a pin moved to 4) while the domain was busy: the rerun sees it."""
    ssm.seed(DOMAIN_ID, STACK, LOGICAL, [declared(version=3)])
    sagemaker.describe("domain", DefaultUserSettings={"KernelGatewayAppSettings": app()})
    first = sagemaker.update_params(
        "domain", {"DefaultUserSettings": {"KernelGatewayAppSettings": app(listed(version=3))}}
    )
    sagemaker.fails("update", "domain", "ResourceInUse", "Resource was modified concurrently", first)
    sagemaker.describe("domain", DefaultUserSettings={"KernelGatewayAppSettings": app()})
    sagemaker.update("domain", {"DefaultUserSettings": {"KernelGatewayAppSettings": app(listed(version=4))}})
    sagemaker.describe(
        "domain", **{"DefaultUserSettings": {"KernelGatewayAppSettings": app(listed(version=4))}}
    )

    def deploy_meanwhile(seconds: float) -> None:
        ssm.seed(DOMAIN_ID, STACK, LOGICAL, [declared(version=4)])
        clock.sleep(seconds)

    monkeypatch.setattr(shared, "sleep", deploy_meanwhile)

    assert run(event(DOMAIN_ID))["Restored"] == {DOMAIN_ID: 1}
    assert ssm.operations == ["GetParametersByPath"] * 2
    sagemaker.done()


def test_the_emf_line_follows_the_specification_and_there_is_one_per_restore(
    run, sagemaker, ssm, capsys, index
):
    ssm.seed(DOMAIN_ID, STACK, LOGICAL, [declared(), declared("b", "cb", app_type="JupyterLab")])
    ssm.seed(PROFILE_ID, STACK, LOGICAL, [declared(settings="UserSettings")])
    sagemaker.describe("domain")
    sagemaker.update(
        "domain",
        {
            "DefaultUserSettings": {
                "KernelGatewayAppSettings": {"CustomImages": [listed()]},
                "JupyterLabAppSettings": {"CustomImages": [listed("b", "cb")]},
            }
        },
    )
    sagemaker.describe(
        "domain",
        **{
            "DefaultUserSettings": {
                "KernelGatewayAppSettings": {"CustomImages": [listed()]},
                "JupyterLabAppSettings": {"CustomImages": [listed("b", "cb")]},
            }
        },
    )
    sagemaker.describe("profile")
    sagemaker.update("profile", {"UserSettings": {"KernelGatewayAppSettings": {"CustomImages": [listed()]}}})
    sagemaker.describe(
        "profile", **{"UserSettings": {"KernelGatewayAppSettings": {"CustomImages": [listed()]}}}
    )
    started = time.time() * 1000

    assert run(event(DOMAIN_ID, PROFILE_ID))["Restored"] == {DOMAIN_ID: 2, PROFILE_ID: 1}

    out = capsys.readouterr().out
    lines = emf_lines(out)
    assert len(lines) == 2 and len([line for line in out.splitlines() if "_aws" in line]) == 2
    assert [(line["Target"], line["EntriesRestored"]) for line in lines] == [(DOMAIN_ID, 2), (PROFILE_ID, 1)]
    for line in lines:
        meta = line["_aws"]
        assert (
            isinstance(meta["Timestamp"], int) and started - 1000 <= meta["Timestamp"] <= time.time() * 1000
        )
        (directive,) = meta["CloudWatchMetrics"]
        assert directive == {
            "Namespace": "SageMakerImageConstructs/Studio",
            "Dimensions": [["Target"]],
            "Metrics": [{"Name": "EntriesRestored", "Unit": "Count"}],
        }
        # Every dimension and metric the directive names is a member of the root node.
        assert all(isinstance(line[name], str) for dims in directive["Dimensions"] for name in dims)
        assert all(isinstance(line[m["Name"]], int) for m in directive["Metrics"])
        assert line["StackId"] == STACK
    assert (index.METRIC_NAMESPACE, index.METRIC_NAME) == (
        "SageMakerImageConstructs/Studio",
        "EntriesRestored",
    )
    sagemaker.done()


@pytest.mark.parametrize(
    "payload",
    [
        {"SageMakerImageConstructs": "reconcile-all", "StackId": STACK, "Targets": [DOMAIN_ID]},
        {"SageMakerImageConstructs": "reconcile", "Targets": [DOMAIN_ID]},
        {"SageMakerImageConstructs": "reconcile", "StackId": "images-stack", "Targets": [DOMAIN_ID]},
        {"SageMakerImageConstructs": "reconcile", "StackId": STACK, "Targets": DOMAIN_ID},
        {"SageMakerImageConstructs": "reconcile", "StackId": STACK, "Targets": [1]},
    ],
    ids=["other-value", "no-stack", "stack-name", "targets-string", "target-number"],
)
def test_a_malformed_event_is_logged_and_ignored(run, sagemaker, ssm, operations, caplog, payload):
    ssm.seed(DOMAIN_ID, STACK, LOGICAL, [declared()])
    caplog.set_level(logging.INFO)

    summary = run(payload)

    assert set(summary) == {"Ignored"}
    assert "Reconcile event ignored" in caplog.text
    assert operations == [] and ssm.operations == []
    sagemaker.done()


def test_targets_past_the_run_s_budget_wait_for_the_next_run(run, sagemaker, ssm, operations):
    """40 s left in the function, 30 s of margin: 10 s for the run; a first target that waits 6 s leaves
    less than the 5 s a target needs."""
    ssm.seed(DOMAIN_ID, STACK, LOGICAL, [declared()])
    sagemaker.describe("domain", status="Updating")
    sagemaker.describe("domain", status="Updating")
    sagemaker.describe("domain", DefaultUserSettings={"KernelGatewayAppSettings": app(listed())})

    summary = run(event(DOMAIN_ID, PROFILE_ID), remaining_ms=40_000)

    assert summary["Restored"] == {DOMAIN_ID: 0}
    assert summary["Skipped"] == {PROFILE_ID: "no time left in this run: left to the next"}
    sagemaker.done()


def test_the_stack_s_record_written_by_a_deploy_is_what_the_run_restores(
    cfn, run, sagemaker, ssm, operations
):
    """A Create records, another writer drops the entry, the next run puts it back; after the stack's
    Delete, a run finds nothing of it."""
    sagemaker.describe("profile")
    sagemaker.update("profile", {"UserSettings": {"KernelGatewayAppSettings": {"CustomImages": [listed()]}}})
    sagemaker.describe(
        "profile", **{"UserSettings": {"KernelGatewayAppSettings": {"CustomImages": [listed()]}}}
    )
    props = cfn.props("profile", cfn.entry("UserSettings"))
    create = cfn.event("Create", props, logical_id=LOGICAL)
    assert cfn.send(create)["Status"] == "SUCCESS"

    sagemaker.describe("profile", UserSettings={"KernelGatewayAppSettings": {"CustomImages": [OTHER]}})
    sagemaker.update(
        "profile", {"UserSettings": {"KernelGatewayAppSettings": {"CustomImages": [OTHER, listed()]}}}
    )
    sagemaker.describe(
        "profile", **{"UserSettings": {"KernelGatewayAppSettings": {"CustomImages": [OTHER, listed()]}}}
    )
    assert run(event(PROFILE_ID))["Restored"] == {PROFILE_ID: 1}

    sagemaker.describe(
        "profile", UserSettings={"KernelGatewayAppSettings": {"CustomImages": [OTHER, listed()]}}
    )
    sagemaker.update("profile", {"UserSettings": {"KernelGatewayAppSettings": {"CustomImages": [OTHER]}}})
    sagemaker.describe("profile", **{"UserSettings": {"KernelGatewayAppSettings": {"CustomImages": [OTHER]}}})
    assert (
        cfn.send(cfn.event("Delete", props, physical_id=PROFILE_ID, logical_id=LOGICAL))["Status"]
        == "SUCCESS"
    )

    calls = len(operations)
    assert run(event(PROFILE_ID))["Skipped"][PROFILE_ID].startswith("no ledger record")
    assert len(operations) == calls
    sagemaker.done()


def test_owner_hash_is_the_contract_s(index):
    ledger = sys.modules["studio_ledger"]
    expected = hashlib.sha256(f"{STACK}/{LOGICAL}".encode()).hexdigest()[:16]
    assert ledger.Owner(STACK, LOGICAL).hash == expected
    assert ledger.PREFIX == index.PREFIX == "/sagemaker-image-constructs/studio"
    assert (index.LEDGER_VERSION, index.EVENT_KEY, index.EVENT_VALUE) == (
        "1",
        "SageMakerImageConstructs",
        "reconcile",
    )
    assert ledger.stack_name(STACK) == "images-stack"
    assert ledger.stack_name("arn:aws-cn:cloudformation:cn-north-1:123456789012:stack/a-b/x") == "a-b"
