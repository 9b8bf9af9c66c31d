"""The Studio function's ledger in deploys: what each resource declared on a target, in Parameter Store.

SSM is moto's (``mock_aws``: the real Parameter Store semantics, in memory); SageMaker is stubbed as
in the other Studio tests. ``ssm.calls`` lists every call the handler's own SSM client made, and
``ssm.record``/``ssm.seed`` read and write records as the contract lays them out, independently of
the handler's code (``docs/studio-custom-resource.md``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
from typing import Any

import pytest
from ledger_entries import declared, listed

HANDLER = "studio_custom_images"  # conftest: index, sagemaker and cfn follow this handler

DOMAIN = "d-abc123xyz"
DOMAIN_ID = f"{DOMAIN}/domain"
PROFILE_ID = f"{DOMAIN}/user-profile/alice"
STACK = (
    "arn:aws:cloudformation:us-east-1:123456789012:stack/images-stack/6c0a4e70-1f2b-11ef-9d3e-0a1b2c3d4e5f"
)
LOGICAL = "StudioImages"  # StudioCfn's default logical id
TEAM_STACK = (
    "arn:aws:cloudformation:us-east-1:123456789012:stack/team-stack/0f0e0d0c-0000-4000-8000-000000000001"
)
PREFIX = "/sagemaker-image-constructs/studio"
SPEC = {"InstanceType": "ml.t3.medium"}
OTHER = {"ImageName": "team-image", "AppImageConfigName": "team-config", "ImageVersionNumber": 2}


def kg(*images: dict[str, Any]) -> dict[str, Any]:
    return {"KernelGatewayAppSettings": {"DefaultResourceSpec": SPEC, "CustomImages": list(images)}}


def bare(*images: dict[str, Any]) -> dict[str, Any]:
    """What a write to an empty KernelGateway settings object sends: the list alone."""
    return {"KernelGatewayAppSettings": {"CustomImages": list(images)}}


def rmw(sagemaker: Any, kind: str, before: dict[str, Any], changed: dict[str, Any]) -> None:
    """Describe showing ``before``, Update with ``changed``, Describe showing the result."""
    sagemaker.describe(kind, **before)
    sagemaker.update(kind, changed)
    sagemaker.describe(kind, **{**before, **changed})


def owner_hash(stack_id: str, logical_id: str) -> str:
    return hashlib.sha256(f"{stack_id}/{logical_id}".encode()).hexdigest()[:16]


# --- The record --------------------------------------------------------------------------------------------


def test_create_writes_its_record_and_the_handler_reads_it_back(cfn, sagemaker, ssm, operations):
    rmw(sagemaker, "domain", {}, {"DefaultUserSettings": bare(listed(version=3), listed("second", "c2"))})
    props = cfn.props("domain", cfn.entry(version=3), cfn.entry(image="second", config="c2"))
    event = cfn.event("Create", props)

    assert cfn.send(event)["Status"] == "SUCCESS"
    name = f"{PREFIX}/{DOMAIN_ID}/{owner_hash(STACK, LOGICAL)}/0"
    assert ssm.names() == [name]
    parameter = ssm.client.get_parameter(Name=name)["Parameter"]
    assert parameter["Type"] == "String"
    assert ssm.value(name) == json.dumps(
        {
            "StackId": STACK,
            "LogicalResourceId": LOGICAL,
            "Entries": [declared(version=3), declared("second", "c2")],
        },
        separators=(",", ":"),
    )  # compact JSON, the version an integer and only when pinned
    (put,) = [params for op, params in ssm.calls if op == "PutParameter"]
    assert (put["Type"], put["Tier"], put["Overwrite"]) == ("String", "Standard", True)
    assert ssm.operations == ["GetParametersByPath", "PutParameter"]
    assert operations == ["DescribeDomain", "UpdateDomain", "DescribeDomain"]

    ledger, entries = sys.modules["studio_ledger"], sys.modules["studio_entries"]
    (record,) = ledger.read(entries.target_of(DOMAIN_ID)).values()
    assert record.owner == (STACK, LOGICAL)
    assert [e.as_record() for e in record.entries] == [declared(version=3), declared("second", "c2")]
    sagemaker.done()


def test_the_record_is_written_before_the_sagemaker_write(cfn, sagemaker, ssm, shared):
    """So that another owner's removal running meanwhile already sees this declaration."""
    seen: list[Any] = []

    def look(**_: Any) -> None:
        seen.append(ssm.record(DOMAIN_ID, STACK, LOGICAL))

    events = shared.sagemaker().meta.events
    events.register(
        "before-parameter-build.sagemaker.UpdateDomain", look, unique_id="test-record-before-write"
    )
    try:
        rmw(sagemaker, "domain", {}, {"DefaultUserSettings": bare(listed())})
        assert cfn.send(cfn.event("Create", cfn.props()))["Status"] == "SUCCESS"
    finally:
        events.unregister(
            "before-parameter-build.sagemaker.UpdateDomain", unique_id="test-record-before-write"
        )
    assert [record and record["Entries"] for record in seen] == [[declared()]]
    sagemaker.done()


def _many(count: int) -> list[dict[str, Any]]:
    """``count`` entries with the longest names SageMaker takes: about 250 characters each as JSON."""
    return [
        declared(f"image-{n:03d}-" + "i" * 53, f"config-{n:03d}-" + "c" * 52, n + 1, app_type="JupyterLab")
        for n in range(count)
    ]


def _props_of(cfn: Any, entries: list[dict[str, Any]]) -> dict[str, Any]:
    return cfn.props("domain", *({**e, "ImageVersionNumber": str(e["ImageVersionNumber"])} for e in entries))


def test_a_200_entry_record_is_split_into_parts_and_read_back(cfn, sagemaker, ssm):
    entries = _many(200)
    shown = [{k: v for k, v in e.items() if k not in ("Settings", "AppType")} for e in entries]
    lab = {"DefaultUserSettings": {"JupyterLabAppSettings": {"CustomImages": shown}}}
    rmw(sagemaker, "domain", {}, lab)

    assert cfn.send(cfn.event("Create", _props_of(cfn, entries)))["Status"] == "SUCCESS"
    parts = ssm.parts(DOMAIN_ID, STACK, LOGICAL)
    assert len(parts) > 10  # more than one read page
    assert [int(name.rsplit("/", 1)[1]) for name in parts] == list(range(len(parts)))
    assert all(len(ssm.value(name)) <= 4096 for name in parts)
    assert ssm.record(DOMAIN_ID, STACK, LOGICAL) == {
        "StackId": STACK,
        "LogicalResourceId": LOGICAL,
        "Entries": entries,
    }
    puts = [params["Name"] for op, params in ssm.calls if op == "PutParameter"]
    assert puts == parts[::-1]  # the higher parts first, part 0 last
    assert ssm.operations == ["GetParametersByPath"] + ["PutParameter"] * len(parts)

    ledger, studio = sys.modules["studio_ledger"], sys.modules["studio_entries"]
    (record,) = ledger.read(studio.target_of(DOMAIN_ID)).values()
    assert [e.as_record() for e in record.entries] == entries
    sagemaker.done()


def test_shrinking_a_record_deletes_the_parts_it_no_longer_needs(cfn, sagemaker, ssm):
    """13 parts down to 1: two read pages, one put, and the 12 other parts deleted 10 names at most per
    call; the entries gone are removed from the target (here already absent)."""
    entries = _many(200)
    old = ssm.seed(DOMAIN_ID, STACK, LOGICAL, entries)
    assert len(old) == 13
    new = cfn.props("domain", cfn.entry(app_type="JupyterLab"))
    lab = {"DefaultUserSettings": {"JupyterLabAppSettings": {"CustomImages": [listed()]}}}
    rmw(sagemaker, "domain", {}, lab)
    event = cfn.event("Update", new, physical_id=DOMAIN_ID, old=_props_of(cfn, entries))

    assert cfn.send(event)["Status"] == "SUCCESS"
    assert ssm.parts(DOMAIN_ID, STACK, LOGICAL) == old[:1]
    assert ssm.record(DOMAIN_ID, STACK, LOGICAL)["Entries"] == [declared(app_type="JupyterLab")]
    deletes = [params["Names"] for op, params in ssm.calls if op == "DeleteParameters"]
    assert sorted(name for names in deletes for name in names) == sorted(old[1:])
    assert all(len(names) <= 10 for names in deletes)
    assert ssm.operations == ["GetParametersByPath"] * 2 + ["PutParameter"] + ["DeleteParameters"] * 2
    sagemaker.done()


def test_a_retried_create_rewrites_no_part_that_holds_the_same_text(cfn, sagemaker, ssm, operations):
    sagemaker.describe("domain", DefaultUserSettings=kg(listed()))
    ssm.seed(DOMAIN_ID, STACK, LOGICAL, [declared()])

    assert cfn.send(cfn.event("Create", cfn.props()))["Status"] == "SUCCESS"
    assert ssm.operations == ["GetParametersByPath"]
    assert operations == ["DescribeDomain"]
    sagemaker.done()


@pytest.mark.parametrize(
    ("kind", "physical_id", "settings"),
    [("profile", PROFILE_ID, "UserSettings"), ("space", f"{DOMAIN}/space/team-space", "SpaceSettings")],
)
def test_a_record_lives_under_its_target_s_physical_id(cfn, sagemaker, ssm, kind, physical_id, settings):
    rmw(sagemaker, kind, {}, {settings: {"KernelGatewayAppSettings": {"CustomImages": [listed()]}}})

    assert cfn.send(cfn.event("Create", cfn.props(kind)))["Status"] == "SUCCESS"
    assert ssm.names() == [f"{PREFIX}/{physical_id}/{owner_hash(STACK, LOGICAL)}/0"]
    assert ssm.record(physical_id, STACK, LOGICAL)["Entries"] == [declared(settings=settings)]
    sagemaker.done()


@pytest.mark.parametrize(
    ("stored", "named"),
    [
        ({"0": '{"StackId":'}, "/0 does not decode"),
        ({"0": "[]"}, "/0 does not decode"),
        ({"1": "{}"}, "/0 is missing"),
        ({"0": '{"StackId":"x","LogicalResourceId":"y","Entries":[]}'}, "its owner's hash is"),
    ],
    ids=["cut-short", "not-an-object", "part-0-missing", "another-owner-s-hash"],
)
def test_a_record_that_does_not_decode_fails_naming_the_parameter(
    cfn, sagemaker, ssm, operations, stored, named
):
    other = owner_hash(TEAM_STACK, "TeamImages")
    for n, value in stored.items():
        ssm.put(f"{PREFIX}/{DOMAIN_ID}/{other}/{n}", value)
    event = cfn.event("Create", cfn.props())

    body = cfn.send(event)

    assert body["Status"] == "FAILED" and body["PhysicalResourceId"] == DOMAIN_ID
    assert f"Ledger record {PREFIX}/{DOMAIN_ID}/{other}" in body["Reason"] and named in body["Reason"]
    assert len(body["Reason"]) <= 256
    assert ssm.operations == ["GetParametersByPath"] and operations == []  # nothing written
    sagemaker.done()


def test_a_parameter_under_the_target_that_is_no_record_part_is_ignored(cfn, sagemaker, ssm, caplog):
    stray = f"{PREFIX}/{DOMAIN_ID}/notes"
    ssm.put(stray, "hand-made")
    rmw(
        sagemaker,
        "domain",
        {},
        {"DefaultUserSettings": {"KernelGatewayAppSettings": {"CustomImages": [listed()]}}},
    )
    caplog.set_level(logging.INFO)

    assert cfn.send(cfn.event("Create", cfn.props()))["Status"] == "SUCCESS"
    assert f"parameter {stray} is not a part of a record: ignored" in caplog.text
    assert ssm.value(stray) == "hand-made"
    sagemaker.done()


# --- Other owners: conflicts and shared entries ------------------------------------------------------------


@pytest.mark.parametrize(
    ("theirs", "ours", "shown"),
    [
        (declared(version=2), "3", "'my-config' version 2, not 'my-config' version 3"),
        (declared(), "3", "'my-config' unpinned, not 'my-config' version 3"),
        (declared(config="their-config"), None, "'their-config' unpinned, not 'my-config' unpinned"),
    ],
    ids=["other-version", "unpinned-there", "other-config"],
)
def test_a_conflicting_declaration_fails_naming_the_other_stack_and_writes_nothing(
    cfn, sagemaker, ssm, operations, theirs, ours, shown
):
    ssm.seed(DOMAIN_ID, TEAM_STACK, "TeamImages", [declared("kept", "kept-config"), theirs])
    event = cfn.event("Create", cfn.props("domain", cfn.entry(image="other"), cfn.entry(version=ours)))

    body = cfn.send(event)

    assert body["Status"] == "FAILED" and body["PhysicalResourceId"] == DOMAIN_ID
    assert body["Reason"].startswith("Stack 'team-stack' (resource 'TeamImages') already declares 'my-image'")
    assert shown in body["Reason"] and len(body["Reason"]) <= 256
    assert ssm.operations == ["GetParametersByPath"] and operations == []
    assert ssm.record(DOMAIN_ID, STACK, LOGICAL) is None
    sagemaker.done()


def test_a_conflicting_update_keeps_the_old_record_and_writes_nothing(cfn, sagemaker, ssm, operations):
    ssm.seed(DOMAIN_ID, TEAM_STACK, "TeamImages", [declared(version=2)])
    mine = ssm.seed(DOMAIN_ID, STACK, LOGICAL, [declared("other", "my-config")])
    old = cfn.props("domain", cfn.entry(image="other"))
    event = cfn.event("Update", cfn.props("domain", cfn.entry(version=3)), physical_id=DOMAIN_ID, old=old)

    body = cfn.send(event)

    assert body["Status"] == "FAILED" and body["PhysicalResourceId"] == DOMAIN_ID
    assert "Stack 'team-stack' (resource 'TeamImages')" in body["Reason"]
    assert ssm.parts(DOMAIN_ID, STACK, LOGICAL) == mine
    assert ssm.record(DOMAIN_ID, STACK, LOGICAL)["Entries"] == [declared("other", "my-config")]
    assert ssm.operations == ["GetParametersByPath"] and operations == []
    sagemaker.done()


def test_the_same_stack_s_other_resource_is_another_owner_too(cfn, sagemaker, ssm):
    ssm.seed(DOMAIN_ID, STACK, "OldLogicalId", [declared(version=2)])

    body = cfn.send(cfn.event("Create", cfn.props("domain", cfn.entry(version=3))))

    assert body["Status"] == "FAILED" and "Stack 'images-stack' (resource 'OldLogicalId')" in body["Reason"]
    sagemaker.done()


def test_an_identical_declaration_is_shared_and_its_second_owner_writes_nothing(
    cfn, sagemaker, ssm, operations
):
    ssm.seed(DOMAIN_ID, TEAM_STACK, "TeamImages", [declared(version=3)])
    sagemaker.describe("domain", DefaultUserSettings=kg(OTHER, listed(version=3)))

    assert cfn.send(cfn.event("Create", cfn.props("domain", cfn.entry(version=3))))["Status"] == "SUCCESS"
    assert operations == ["DescribeDomain"]
    assert ssm.record(DOMAIN_ID, STACK, LOGICAL)["Entries"] == [declared(version=3)]
    assert ssm.record(DOMAIN_ID, TEAM_STACK, "TeamImages")["Entries"] == [declared(version=3)]
    sagemaker.done()


def test_update_keeps_a_removed_entry_another_owner_still_declares(cfn, sagemaker, ssm, caplog):
    ssm.seed(DOMAIN_ID, TEAM_STACK, "TeamImages", [declared("shared", "shared-config")])
    ssm.seed(
        DOMAIN_ID, STACK, LOGICAL, [declared(), declared("shared", "shared-config"), declared("gone", "g")]
    )
    before = {"DefaultUserSettings": kg(listed(), listed("shared", "shared-config"), listed("gone", "g"))}
    rmw(sagemaker, "domain", before, {"DefaultUserSettings": kg(listed(), listed("shared", "shared-config"))})
    old = cfn.props(
        "domain",
        cfn.entry(),
        cfn.entry(image="shared", config="shared-config"),
        cfn.entry(image="gone", config="g"),
    )
    caplog.set_level(logging.INFO)
    event = cfn.event("Update", cfn.props(), physical_id=DOMAIN_ID, old=old)

    assert cfn.send(event)["Status"] == "SUCCESS"
    assert "kept, still declared by others: ['shared']" in caplog.text
    assert ssm.record(DOMAIN_ID, STACK, LOGICAL)["Entries"] == [declared()]
    assert ssm.operations == ["GetParametersByPath", "PutParameter"]
    sagemaker.done()


def test_delete_keeps_shared_entries_removes_the_rest_and_deletes_its_own_record(
    cfn, sagemaker, ssm, operations
):
    theirs = ssm.seed(DOMAIN_ID, TEAM_STACK, "TeamImages", [declared("shared", "shared-config")])
    ssm.seed(DOMAIN_ID, STACK, LOGICAL, [declared(), declared("shared", "shared-config")])
    before = {"DefaultUserSettings": kg(OTHER, listed(), listed("shared", "shared-config"))}
    rmw(sagemaker, "domain", before, {"DefaultUserSettings": kg(OTHER, listed("shared", "shared-config"))})
    props = cfn.props("domain", cfn.entry(), cfn.entry(image="shared", config="shared-config"))

    assert cfn.send(cfn.event("Delete", props, physical_id=DOMAIN_ID))["Status"] == "SUCCESS"
    assert ssm.names() == theirs
    assert ssm.operations == ["GetParametersByPath", "DeleteParameters"]
    assert operations == ["DescribeDomain", "UpdateDomain", "DescribeDomain"]
    sagemaker.done()


def test_delete_whose_entries_are_all_shared_calls_no_sagemaker(cfn, sagemaker, ssm, operations):
    ssm.seed(DOMAIN_ID, TEAM_STACK, "TeamImages", [declared()])
    ssm.seed(DOMAIN_ID, STACK, LOGICAL, [declared()])

    assert cfn.send(cfn.event("Delete", cfn.props(), physical_id=DOMAIN_ID))["Status"] == "SUCCESS"
    assert operations == []
    assert ssm.record(DOMAIN_ID, STACK, LOGICAL) is None
    assert ssm.record(DOMAIN_ID, TEAM_STACK, "TeamImages") is not None
    sagemaker.done()


@pytest.mark.parametrize("how", ["gone", "deleting"])
def test_delete_of_a_target_gone_or_deleting_deletes_its_own_record(cfn, sagemaker, ssm, how):
    ssm.seed(PROFILE_ID, STACK, LOGICAL, [declared(settings="UserSettings")])
    if how == "gone":
        sagemaker.fails("describe", "profile", "ResourceNotFound", "Cannot find the resource.")
    else:
        sagemaker.describe("profile", status="Deleting", UserSettings=kg(listed()))

    assert cfn.send(cfn.event("Delete", cfn.props("profile"), physical_id=PROFILE_ID))["Status"] == "SUCCESS"
    assert ssm.names() == []
    sagemaker.done()


@pytest.mark.parametrize(
    "props",
    [{"CustomImages": [{"Settings": "DefaultUserSettings"}]}, {"DomainId": "d-other1"}],
    ids=["unparsable", "other-target"],
)
def test_delete_whose_properties_name_nothing_there_still_deletes_its_own_record(
    cfn, sagemaker, ssm, operations, props
):
    ssm.seed(DOMAIN_ID, STACK, LOGICAL, [declared()])
    kept = ssm.seed(DOMAIN_ID, TEAM_STACK, "TeamImages", [declared("team", "team-config")])

    assert (
        cfn.send(cfn.event("Delete", {**cfn.props(), **props}, physical_id=DOMAIN_ID))["Status"] == "SUCCESS"
    )
    assert ssm.names() == kept and operations == []
    sagemaker.done()


def test_delete_drops_its_record_even_when_the_removal_then_fails(cfn, sagemaker, ssm):
    """The record goes first: a reconciliation starting meanwhile finds nothing of this resource to put
    back; CloudFormation's retried Delete removes the entries from its properties."""
    ssm.seed(DOMAIN_ID, STACK, LOGICAL, [declared()])
    sagemaker.describe("domain", status="Failed", failure="Subnet gone", DefaultUserSettings=kg(listed()))

    body = cfn.send(cfn.event("Delete", cfn.props(), physical_id=DOMAIN_ID))

    assert body["Status"] == "FAILED" and "Subnet gone" in body["Reason"]
    assert ssm.names() == []
    sagemaker.done()


def test_the_take_back_after_a_failure_skips_keys_another_owner_declares(cfn, sagemaker, ssm, operations):
    """'shared' was dropped from the target by someone: this Create writes it back with its own entry;
    the target then fails, and the take-back removes only its own entry."""
    ssm.seed(DOMAIN_ID, TEAM_STACK, "TeamImages", [declared("shared", "shared-config")])
    written = {"DefaultUserSettings": kg(OTHER, listed("shared", "shared-config"), listed())}
    sagemaker.describe("domain", DefaultUserSettings=kg(OTHER))
    sagemaker.update("domain", written)
    sagemaker.describe("domain", status="Update_Failed", failure="Bad image", **written)
    sagemaker.describe("domain", status="Update_Failed", failure="Bad image", **written)  # the take-back
    sagemaker.update("domain", {"DefaultUserSettings": kg(OTHER, listed("shared", "shared-config"))})
    sagemaker.describe("domain", DefaultUserSettings=kg(OTHER, listed("shared", "shared-config")))
    props = cfn.props("domain", cfn.entry(image="shared", config="shared-config"), cfn.entry())

    body = cfn.send(cfn.event("Create", props))

    assert body["Status"] == "FAILED" and "Bad image" in body["Reason"]
    assert operations == ["DescribeDomain", "UpdateDomain", "DescribeDomain"] * 2
    # Not reverted: the rollback's Delete (or Update) rewrites it.
    assert len(ssm.record(DOMAIN_ID, STACK, LOGICAL)["Entries"]) == 2
    sagemaker.done()


def test_a_replacement_records_on_the_new_target_and_its_clean_up_drops_the_old_record(cfn, sagemaker, ssm):
    ssm.seed(DOMAIN_ID, STACK, LOGICAL, [declared()])
    old = cfn.props()
    new = cfn.props("profile", cfn.entry("UserSettings"))
    rmw(
        sagemaker, "profile", {}, {"UserSettings": {"KernelGatewayAppSettings": {"CustomImages": [listed()]}}}
    )

    assert (
        cfn.send(cfn.event("Update", new, physical_id=DOMAIN_ID, old=old))["PhysicalResourceId"] == PROFILE_ID
    )
    assert ssm.record(PROFILE_ID, STACK, LOGICAL)["Entries"] == [declared(settings="UserSettings")]
    assert ssm.record(DOMAIN_ID, STACK, LOGICAL) is not None  # until the clean-up Delete
    sagemaker.done()

    rmw(sagemaker, "domain", {"DefaultUserSettings": kg(listed())}, {"DefaultUserSettings": kg()})
    assert cfn.send(cfn.event("Delete", old, physical_id=DOMAIN_ID))["Status"] == "SUCCESS"
    assert ssm.record(DOMAIN_ID, STACK, LOGICAL) is None
    assert ssm.record(PROFILE_ID, STACK, LOGICAL) is not None
    sagemaker.done()


# --- LedgerVersion -------------------------------------------------------------------------------------


def test_ledger_version_1_and_absent_are_accepted_and_another_is_refused(cfn, sagemaker, ssm, operations):
    without = {k: v for k, v in cfn.props().items() if k != "LedgerVersion"}
    assert cfn.props()["LedgerVersion"] == "1"
    for props in (cfn.props(), without):
        sagemaker.describe("domain", DefaultUserSettings=kg(listed()))
        assert cfn.send(cfn.event("Create", props))["Status"] == "SUCCESS"

    body = cfn.send(cfn.event("Create", cfn.props(LedgerVersion="2")))
    assert body["Status"] == "FAILED" and body["Reason"].startswith(
        "LedgerVersion '2' is not one this function"
    )
    sagemaker.done()


def test_old_properties_of_0_3_0_without_ledger_version_still_remove(cfn, sagemaker, ssm):
    old = {
        k: v
        for k, v in cfn.props("domain", cfn.entry(image="gone", config="g")).items()
        if k != "LedgerVersion"
    }
    rmw(
        sagemaker,
        "domain",
        {"DefaultUserSettings": kg(listed("gone", "g"))},
        {"DefaultUserSettings": kg(listed())},
    )

    assert cfn.send(cfn.event("Update", cfn.props(), physical_id=DOMAIN_ID, old=old))["Status"] == "SUCCESS"
    sagemaker.done()


# --- SSM calls per invocation -------------------------------------------------------------------------------


def test_ssm_calls_per_create_update_and_delete(cfn, sagemaker, ssm):
    """One read page and one put per part for a Create and an Update; one read and one delete for a Delete."""
    rmw(
        sagemaker,
        "domain",
        {},
        {"DefaultUserSettings": {"KernelGatewayAppSettings": {"CustomImages": [listed()]}}},
    )
    first = cfn.props()
    assert cfn.send(cfn.event("Create", first))["Status"] == "SUCCESS"
    assert ssm.operations == ["GetParametersByPath", "PutParameter"]

    ssm.calls.clear()
    second = cfn.props("domain", cfn.entry(version=2))
    rmw(
        sagemaker,
        "domain",
        {"DefaultUserSettings": kg(listed())},
        {"DefaultUserSettings": kg(listed(version=2))},
    )
    assert cfn.send(cfn.event("Update", second, physical_id=DOMAIN_ID, old=first))["Status"] == "SUCCESS"
    assert ssm.operations == ["GetParametersByPath", "PutParameter"]

    ssm.calls.clear()
    rmw(sagemaker, "domain", {"DefaultUserSettings": kg(listed(version=2))}, {"DefaultUserSettings": kg()})
    assert cfn.send(cfn.event("Delete", second, physical_id=DOMAIN_ID))["Status"] == "SUCCESS"
    assert ssm.operations == ["GetParametersByPath", "DeleteParameters"]
    assert ssm.names() == []
    sagemaker.done()


def test_ssm_actions_are_exactly_the_operations_called(index, ssm, cfn, sagemaker):
    """The IAM policy grants SSM_ACTIONS; the handler module exposes the ledger's constant."""
    assert index.SSM_ACTIONS == ("ssm:GetParametersByPath", "ssm:PutParameter", "ssm:DeleteParameters")
    rmw(
        sagemaker,
        "domain",
        {},
        {"DefaultUserSettings": {"KernelGatewayAppSettings": {"CustomImages": [listed()]}}},
    )
    assert cfn.send(cfn.event("Create", cfn.props()))["Status"] == "SUCCESS"
    sagemaker.describe("domain", DefaultUserSettings=kg())
    assert cfn.send(cfn.event("Delete", cfn.props(), physical_id=DOMAIN_ID))["Status"] == "SUCCESS"
    assert {f"ssm:{op}" for op in ssm.operations} == set(index.SSM_ACTIONS)
    sagemaker.done()
