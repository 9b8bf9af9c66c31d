"""A stack's life through crhelper's real response path: HTTPS PUTs to a local pre-signed-looking URL.

SageMaker is stubbed; the CloudFormation side is real bytes over TLS. Also checks that, with logs
captured at DEBUG, nothing logged contains the ResponseURL or its signature.
"""

from __future__ import annotations

import logging
import re

from crhelper import CfnResource
from lifecycle_checks import assert_answered_without_leaks, logged

GENERATED_ID = re.compile(r"images-stack_BrokenAliases_[A-Z0-9]{8}")


def test_life_cycle_answers_exact_bodies_and_never_logs_the_response_url(
    cfn, sagemaker, cfn_endpoint, caplog, crhelper_sleeps
):
    caplog.set_level(logging.DEBUG)
    sent: list[dict] = []

    def step(event: dict, status: str, physical_id: str, reason: str = "") -> None:
        sent.append(event)
        assert cfn.send(event) == cfn.expected(event, status, physical_id, reason)
        sagemaker.done()

    # 1. Create: version 1 gets latest and stable.
    sagemaker.lists(1, [])
    sagemaker.holder("latest", None)
    sagemaker.holder("stable", None)
    sagemaker.update(1, add=["latest", "stable"])
    first_props = cfn.props(1, ["latest", "stable"])
    step(cfn.event("Create", first_props, logical_id="FirstAliases"), "SUCCESS", "my-image/1/aliases")

    # 2. Update, same version: stable dropped, prod added.
    sagemaker.lists(1, ["latest", "stable"])
    sagemaker.holder("prod", None)
    sagemaker.update(1, add=["prod"], delete=["stable"])
    second_props = cfn.props(1, ["latest", "prod"])
    update = cfn.event(
        "Update", second_props, physical_id="my-image/1/aliases", old=first_props, logical_id="FirstAliases"
    )
    step(update, "SUCCESS", "my-image/1/aliases")

    # 3. A move: version 2's resource claims latest from version 1.
    sagemaker.lists(2, [])
    sagemaker.holder("latest", 1)
    sagemaker.update(1, delete=["latest"])
    sagemaker.update(2, add=["latest"])
    step(
        cfn.event("Create", cfn.props(2, ["latest"]), logical_id="SecondAliases"),
        "SUCCESS",
        "my-image/2/aliases",
    )

    # 4. Replacement: the first resource now follows version 3 (prod moves from 1 to 3) ...
    sagemaker.lists(3, [])
    sagemaker.holder("prod", 1)
    sagemaker.update(1, delete=["prod"])
    sagemaker.update(3, add=["prod"])
    third_props = cfn.props(3, ["prod"])
    replace = cfn.event(
        "Update", third_props, physical_id="my-image/1/aliases", old=second_props, logical_id="FirstAliases"
    )
    step(replace, "SUCCESS", "my-image/3/aliases")

    # ... and the Delete of the old id finds neither latest nor prod on version 1: nothing removed.
    sagemaker.lists(1, ["v1-own-alias"])
    step(
        cfn.event("Delete", second_props, physical_id="my-image/1/aliases", logical_id="FirstAliases"),
        "SUCCESS",
        "my-image/1/aliases",
    )

    # 5. Stack delete: version 2 drops latest; version 3 is already gone (success all the same).
    sagemaker.lists(2, ["latest"])
    sagemaker.update(2, delete=["latest"])
    step(
        cfn.event(
            "Delete", cfn.props(2, ["latest"]), physical_id="my-image/2/aliases", logical_id="SecondAliases"
        ),
        "SUCCESS",
        "my-image/2/aliases",
    )
    params = {"ImageName": "my-image", "Version": 3, "MaxResults": 100}
    sagemaker.error("list_aliases", "ResourceNotFound", params, "Image version 3 does not exist.")
    step(
        cfn.event("Delete", third_props, physical_id="my-image/3/aliases", logical_id="FirstAliases"),
        "SUCCESS",
        "my-image/3/aliases",
    )

    # 6. A Create with a bad alias fails at once, under an id crhelper makes up ...
    broken = cfn.event("Create", cfn.props(4, ["ok", "-bad"]), logical_id="BrokenAliases")
    body = cfn.send(broken)
    sent.append(broken)
    assert GENERATED_ID.fullmatch(body["PhysicalResourceId"])
    reason = (
        "Alias '-bad' is invalid: SageMaker wants 1-128 letters, digits, '-', '_', '.',"
        " not starting with '-' or '.'"
    )
    assert body == cfn.expected(broken, "FAILED", body["PhysicalResourceId"], reason)

    # ... and the rollback Delete of that id succeeds without calling SageMaker.
    rollback = cfn.event(
        "Delete",
        broken["ResourceProperties"],
        physical_id=body["PhysicalResourceId"],
        logical_id="BrokenAliases",
    )
    step(rollback, "SUCCESS", body["PhysicalResourceId"])

    # Every response went to its own pre-signed URL; none of those URLs reached the logs.
    assert_answered_without_leaks(sent, cfn_endpoint, caplog, cfn.index.__name__, crhelper_sleeps)


def test_crhelper_defaults_would_log_the_response_url(cfn, caplog):
    """The control for the check above: at crhelper's default DEBUG level the signature is logged."""
    caplog.set_level(logging.DEBUG)
    chatty = CfnResource(log_level="DEBUG", boto_level="CRITICAL", sleep_on_delete=0)
    chatty.delete(lambda event, context: None)
    event = cfn.event("Delete", cfn.props(1, []), physical_id="anything")

    assert cfn.send(event, handler=chatty)["Status"] == "SUCCESS"
    assert event["ResponseURL"] in logged(caplog)
