"""The reconcile rules: which targets each schedule lists, at what interval, in what order, within
EventBridge's limits; and the opt-in CloudTrail rule, its pattern tried with moto's implementation of
EventBridge's matching (moto 5.2.6 answers TestEventPattern without a result, so its matcher is called)."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_sagemaker as sm
from moto.events.models import EventPattern

from constructs_lib import (
    AppImageConfig,
    BaseImage,
    ContainerConfig,
    Image,
    StudioAttachment,
    ValidationError,
    studio,
)

BASE = BaseImage.from_uri("111122223333.dkr.ecr.us-east-1.amazonaws.com/base:1")
DOMAIN = "d-0123abc"
MAX_INPUT = 8192  # EventBridge's limit on a target's Input
MAX_TARGETS = 5  # per rule


def kit(stack: cdk.Stack, images: int = 1) -> tuple[list[Image], AppImageConfig]:
    made = []
    for n in range(images):
        image = Image(stack, f"Image{n}", image_name=f"image-{n}")
        image.add_version("V1", base_image=BASE, check_base_image=False)  # scaffolding: no check function
        made.append(image)
    return made, AppImageConfig(stack, "Lab", jupyter_lab=ContainerConfig())


def rules(stack: cdk.Stack) -> dict[str, dict[str, Any]]:
    template = cdk.assertions.Template.from_stack(stack).to_json()
    return {k: v for k, v in template["Resources"].items() if v["Type"] == "AWS::Events::Rule"}


def listed(stack: cdk.Stack, rule: dict[str, Any]) -> list[list[str]]:
    """Each target input's physical ids, resolved as CloudFormation would (the StackId left a Ref)."""
    inputs = []
    for target in rule["Properties"]["Targets"]:
        text = target["Input"]
        if isinstance(text, dict):  # Fn::Join of literal strings and the StackId
            text = "".join(p if isinstance(p, str) else "arn:stack" for p in text["Fn::Join"][1])
        event = json.loads(text)
        assert event[studio.RECONCILE_KEY] == studio.RECONCILE_VALUE
        assert event["StackId"] == "arn:stack"
        inputs.append(event["Targets"])
    return inputs


def per_target_ids(stack: cdk.Stack) -> set[str]:
    template = cdk.assertions.Template.from_stack(stack).to_json()
    return {k for k, v in template["Resources"].items() if v["Type"] == studio.RESOURCE_TYPE}


def test_by_default_one_schedule_every_10_minutes_lists_every_target_after_its_resource(
    stack: cdk.Stack,
) -> None:
    (image,), lab = kit(stack)
    image.attach_to_studio("Domain", app_image_config=lab, domain=DOMAIN)
    image.attach_to_studio("Alice", app_image_config=lab, domain=DOMAIN, user_profile="alice")
    image.attach_to_studio("Bob", app_image_config=lab, domain=DOMAIN, user_profile="bob")
    ((rule_id, rule),) = rules(stack).items()
    assert rule["Properties"]["ScheduleExpression"] == "rate(10 minutes)"
    assert listed(stack, rule) == [
        [f"{DOMAIN}/domain", f"{DOMAIN}/user-profile/alice", f"{DOMAIN}/user-profile/bob"]
    ]
    # Created after the per-target resources, deleted before them.
    assert set(rule["DependsOn"]) == per_target_ids(stack)
    template = cdk.assertions.Template.from_stack(stack)
    function = template.find_resources("AWS::Lambda::Function")
    (function_id,) = function
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]}
    template.has_resource_properties(
        "AWS::Lambda::Permission",
        {
            "Action": "lambda:InvokeFunction",
            "Principal": "events.amazonaws.com",
            "SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]},
        },
    )


def test_a_target_takes_the_shortest_interval_its_attachments_ask_for(stack: cdk.Stack) -> None:
    images, lab = kit(stack, 3)
    images[0].attach_to_studio(
        "Slow", app_image_config=lab, domain=DOMAIN, reconcile_interval=cdk.Duration.hours(1)
    )
    images[1].attach_to_studio(
        "Fast", app_image_config=lab, domain=DOMAIN, reconcile_interval=cdk.Duration.minutes(5)
    )
    images[2].attach_to_studio("Off", app_image_config=lab, domain=DOMAIN, reconcile_interval=None)
    found = {rule["Properties"]["ScheduleExpression"]: listed(stack, rule) for rule in rules(stack).values()}
    # The hour's schedule was made for the first attachment; the target moved to the 5 minutes'.
    assert found == {"rate(1 hour)": [[]], "rate(5 minutes)": [[f"{DOMAIN}/domain"]]}


def test_none_on_every_attachment_of_a_target_leaves_it_out(stack: cdk.Stack) -> None:
    images, lab = kit(stack, 2)
    images[0].attach_to_studio("Off", app_image_config=lab, domain=DOMAIN, reconcile_interval=None)
    images[1].attach_to_studio("Bob", app_image_config=lab, domain=DOMAIN, user_profile="bob")
    (rule,) = rules(stack).values()
    assert listed(stack, rule) == [[f"{DOMAIN}/user-profile/bob"]]


def test_the_stack_default_applies_to_attachments_that_set_none_of_their_own(app: cdk.App) -> None:
    hourly, off = cdk.Stack(app, "Hourly"), cdk.Stack(app, "Off")
    StudioAttachment.set_default_reconcile_interval(hourly, cdk.Duration.hours(1))
    StudioAttachment.set_default_reconcile_interval(off, None)
    (image,), lab = kit(hourly)
    image.attach_to_studio("A", app_image_config=lab, domain=DOMAIN)
    (image,), lab = kit(off)
    image.attach_to_studio("A", app_image_config=lab, domain="d-offstack")
    image.attach_to_studio(
        "B", app_image_config=lab, domain="d-other", reconcile_interval=cdk.Duration.minutes(2)
    )
    assert [r["Properties"]["ScheduleExpression"] for r in rules(hourly).values()] == ["rate(1 hour)"]
    (rule,) = rules(off).values()
    assert rule["Properties"]["ScheduleExpression"] == "rate(2 minutes)"
    assert listed(off, rule) == [["d-other/domain"]]


def test_the_stack_default_set_after_an_attachment_is_refused(stack: cdk.Stack) -> None:
    (image,), lab = kit(stack)
    image.attach_to_studio("A", app_image_config=lab, domain=DOMAIN)
    with pytest.raises(ValidationError, match="before its first attachment"):
        StudioAttachment.set_default_reconcile_interval(stack, cdk.Duration.minutes(30))


@pytest.mark.parametrize("interval", [cdk.Duration.seconds(30), cdk.Duration.seconds(90), "10 minutes"])
def test_an_interval_eventbridge_cannot_schedule_is_refused_naming_it(
    stack: cdk.Stack, interval: Any
) -> None:
    (image,), lab = kit(stack)
    with pytest.raises(ValidationError, match="invalid reconcile_interval"):
        image.attach_to_studio("A", app_image_config=lab, domain=DOMAIN, reconcile_interval=interval)


def test_reconcile_options_on_a_target_of_the_same_stack_are_refused(stack: cdk.Stack) -> None:
    """Its own template holds the entry: there is nothing for the function to put back."""
    (image,), lab = kit(stack)
    domain = sm.CfnDomain(
        stack, "Domain", auth_mode="IAM", domain_name="d", vpc_id="vpc-0123456789abcdef0",
        subnet_ids=["subnet-0123456789abcdef0"],
        default_user_settings=sm.CfnDomain.UserSettingsProperty(execution_role="arn:aws:iam::1:role/r"),
    )  # fmt: skip
    with pytest.raises(ValidationError, match="reconcile_interval and reconcile_on_change"):
        image.attach_to_studio("A", app_image_config=lab, domain=domain, reconcile_on_change=True)
    image.attach_to_studio("B", app_image_config=lab, domain=domain)
    assert rules(stack) == {}


def test_many_targets_spread_over_inputs_and_rules_within_eventbridge_limits(stack: cdk.Stack) -> None:
    (image,), lab = kit(stack)
    domain = "d-" + "a" * 61
    names = [f"{n:03d}" + "b" * 60 for n in range(70)]  # 63-character profile names
    for n, name in enumerate(names):
        image.attach_to_studio(f"P{n}", app_image_config=lab, domain=domain, user_profile=name)
    found = rules(stack)
    inputs = [ids for rule in found.values() for ids in listed(stack, rule)]
    assert sorted(i for ids in inputs for i in ids) == sorted(f"{domain}/user-profile/{n}" for n in names)
    assert len(inputs) > 1
    for rule in found.values():
        assert len(rule["Properties"]["Targets"]) <= MAX_TARGETS
        for target in rule["Properties"]["Targets"]:
            parts = target["Input"]["Fn::Join"][1]
            # arn:aws-us-gov:cloudformation:us-isof-south-1:<12>:stack/<128-character name>/<uuid>
            longest_stack_id = 236
            assert sum(len(p) for p in parts if isinstance(p, str)) + longest_stack_id <= MAX_INPUT


def cloudtrail_event(domain: str, name: str = "UpdateDomain") -> dict[str, Any]:
    return {
        "id": "7bf73129-1428-4cd3-a780-95db273d1602",
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.sagemaker",
        "account": "123456789012",
        "time": "2026-12-04T12:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "eventSource": "sagemaker.amazonaws.com",
            "eventName": name,
            "requestParameters": {"domainId": domain, "defaultUserSettings": {}},
        },
    }


def test_the_opt_in_rule_matches_another_writers_update_of_the_target_and_nothing_else(
    stack: cdk.Stack,
) -> None:
    (image,), lab = kit(stack)
    image.attach_to_studio("A", app_image_config=lab, domain=DOMAIN, reconcile_on_change=True)
    (on_change,) = [r for r in rules(stack).values() if "EventPattern" in r["Properties"]]
    assert listed(stack, on_change) == [[f"{DOMAIN}/domain"]]
    pattern = EventPattern.load(json.dumps(on_change["Properties"]["EventPattern"]))
    assert pattern.matches_event(cloudtrail_event(DOMAIN))
    assert pattern.matches_event(cloudtrail_event(DOMAIN, "UpdateUserProfile"))
    assert not pattern.matches_event(cloudtrail_event("d-someoneelse"))
    assert not pattern.matches_event(cloudtrail_event(DOMAIN, "DescribeDomain"))


def test_without_opting_in_there_is_no_cloudtrail_rule(stack: cdk.Stack) -> None:
    (image,), lab = kit(stack)
    image.attach_to_studio("A", app_image_config=lab, domain=DOMAIN)
    assert [r for r in rules(stack).values() if "EventPattern" in r["Properties"]] == []
