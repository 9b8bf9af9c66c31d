"""IAM's policy-size limits and CloudFormation's 500 resources, at the largest stack of images (or of Studio
targets) they allow.

IAM counts a policy's characters without white space, after CloudFormation resolved it: the test
resolves every pseudo parameter to its longest value, so what passes here passes in any partition.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from constructs_lib import (
    AppImageConfig,
    AppType,
    BaseImage,
    Image,
    ImageVersion,
    StudioAttachment,
    aliases,
    base_image_check,
    studio,
)

DLC = BaseImage.from_deep_learning_container("pytorch-training", "2.1.0-gpu-py310")
MAX_RESOURCES = 500
INLINE_LIMIT = 10_240  # all inline policies of a role, together
MANAGED_LIMIT = 6_144  # one managed policy
MANAGED_PER_ROLE = 10  # IAM's default quota of managed policies attached to a role
LONGEST = {
    "AWS::Partition": "aws-us-gov",
    "AWS::Region": "us-isof-south-1",
    "AWS::AccountId": "123456789012",
    "AWS::URLSuffix": "amazonaws.com.cn",
}
STACK_NAME = "S" * 128  # CloudFormation's longest stack name: generated names (the log group's) grow with it


def name(index: int) -> str:
    """A 63-character image name, the longest SageMaker allows."""
    return f"image-{index:03d}-".ljust(63, "x")


def worst_case(value: Any, template: dict[str, Any]) -> Any:
    """Resolve a template value the way CloudFormation would, with the longest pseudo parameters."""
    if isinstance(value, list):
        return [worst_case(v, template) for v in value]
    if not isinstance(value, dict):
        return value
    if "Ref" in value and value["Ref"] in LONGEST:
        return LONGEST[value["Ref"]]
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(worst_case(p, template) for p in parts)
    if "Fn::GetAtt" in value:
        logical_id, attribute = value["Fn::GetAtt"]
        assert template["Resources"][logical_id]["Type"] == "AWS::Logs::LogGroup", value
        assert attribute == "Arn"
        generated = f"{STACK_NAME}-{logical_id}-{'X' * 12}"  # CloudFormation's generated log group name
        partition, region = LONGEST["AWS::Partition"], LONGEST["AWS::Region"]
        return f"arn:{partition}:logs:{region}:123456789012:log-group:{generated}:*"
    return {k: worst_case(v, template) for k, v in value.items()}


def size(document: Any) -> int:
    return len(json.dumps(document, separators=(",", ":")))


def function_policies(
    template: dict[str, Any], provider_id: str = aliases.PROVIDER_ID
) -> tuple[list[Any], list[Any]]:
    """The inline and the managed policy documents attached to a function's role (the aliases one's)."""
    (role_id,) = [
        k
        for k, v in template["Resources"].items()
        if v["Type"] == "AWS::IAM::Role" and k.startswith(provider_id)
    ]
    inline, managed = [], []
    for resource in template["Resources"].values():
        properties = resource.get("Properties", {})
        if {"Ref": role_id} not in properties.get("Roles", []):
            continue
        document = worst_case(properties["PolicyDocument"], template)
        (managed if resource["Type"] == "AWS::IAM::ManagedPolicy" else inline).append(document)
    return inline, managed


def sagemaker_resources(documents: list[Any]) -> list[str]:
    """Every resource the documents grant, but the log group's."""
    return [
        resource
        for document in documents
        for statement in document["Statement"]
        if statement["Action"] != ["logs:CreateLogStream", "logs:PutLogEvents"]
        for resource in (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        )
    ]


def build(tmp_path: Path, images: int, *, defined: bool) -> tuple[cdk.Stack, dict[str, Any]]:
    app = cdk.App(outdir=str(tmp_path / f"out-{images}"))
    stack = cdk.Stack(app, "Stack", stack_name=STACK_NAME)
    for index in range(images):
        if defined:
            image = Image(stack, f"I{index}", image_name=name(index))
            image.add_version("V", base_image=DLC, aliases=["latest"])
        else:
            ImageVersion(
                stack,
                f"V{index}",
                image=Image.from_image_name(stack, f"I{index}", name(index)),
                base_image=BaseImage.from_uri("public.ecr.aws/docker/library/python:3.11"),
                aliases=["latest"],
            )
    return stack, Template.from_stack(stack).to_json()


def largest_stack(tmp_path: Path, *, defined: bool, per_image: int) -> tuple[int, cdk.Stack, dict[str, Any]]:
    """The most one-version images (with floating aliases) that fit in CloudFormation's 500 resources."""
    _, small = build(tmp_path, 4, defined=defined)
    images = (MAX_RESOURCES - (len(small["Resources"]) - 4 * per_image)) // per_image
    while True:
        try:
            stack, template = build(tmp_path, images, defined=defined)
        except RuntimeError as error:  # aws-cdk-lib's 500 resources, or the library's managed-policy quota
            assert "TooManyResourcesInStack" in str(error) or "IAM's default quota" in str(error)
            images -= 1
            continue
        return images, stack, template


@pytest.mark.parametrize(
    ("defined", "per_image"),
    [
        (False, 2),  # imported images: a version and its aliases resource each, the most images there are
        (True, 6),  # Image constructs: image, role, two policies, version, aliases resource
    ],
    ids=["imported-images", "image-constructs"],
)
def test_the_function_role_fits_iam_limits_at_the_largest_stack(
    tmp_path: Path, defined: bool, per_image: int
) -> None:
    images, _, template = largest_stack(tmp_path, defined=defined, per_image=per_image)
    resources = len(template["Resources"])
    assert resources <= MAX_RESOURCES < resources + per_image  # one image more would not fit
    inline, managed = function_policies(template)
    assert sum(size(document) for document in inline) <= INLINE_LIMIT, [size(d) for d in inline]
    assert all(size(document) <= MANAGED_LIMIT for document in managed), [size(d) for d in managed]
    assert len(managed) <= MANAGED_PER_ROLE
    # Scoping kept: exactly each image and its versions, nothing wider.
    granted = sagemaker_resources(inline + managed)
    prefix = f"arn:{LONGEST['AWS::Partition']}:sagemaker:{LONGEST['AWS::Region']}:123456789012:"
    expected = [f"{prefix}image/{name(i)}" for i in range(images)]
    expected += [f"{prefix}image-version/{name(i)}/*" for i in range(images)]
    assert sorted(granted) == sorted(expected)
    print(
        f"{images} images, {resources} resources, inline {[size(d) for d in inline]}, "
        f"managed {[size(d) for d in managed]}"
    )


def test_overflow_policies_are_created_by_aws_cdk_lib_and_awaited(tmp_path: Path) -> None:
    _, template = build(tmp_path, 60, defined=False)
    managed = {k: v for k, v in template["Resources"].items() if v["Type"] == "AWS::IAM::ManagedPolicy"}
    assert managed and all(re.match(rf"{aliases.PROVIDER_ID}RoleOverflowPolicy\d", k) for k in managed)
    for resource in template["Resources"].values():
        if resource["Type"] == aliases.RESOURCE_TYPE:
            assert set(managed) <= set(resource["DependsOn"])  # every grant exists before it runs


# The base image check's role grows by one ECR repository ARN per repository its stack's versions use:
# the longest a version's BaseImage (255 characters) allows, each image's version from its own one.
ECR_HOST = "123456789012.dkr.ecr.us-east-1.amazonaws.com/"


def repository(index: int) -> str:
    """The longest repository name a BaseImage of ECR_HOST and tag ':1' leaves room for (208)."""
    return f"team/{index:03d}-".ljust(255 - len(ECR_HOST) - len(":1"), "x")


def build_checked(tmp_path: Path, images: int) -> dict[str, Any]:
    app = cdk.App(outdir=str(tmp_path / f"checked-{images}"))
    stack = cdk.Stack(app, "Stack", stack_name=STACK_NAME)
    for index in range(images):
        image = Image(stack, f"I{index}", image_name=name(index))
        image.add_version("V", base_image=BaseImage.from_uri(f"{ECR_HOST}{repository(index)}:1"))
    return dict(Template.from_stack(stack).to_json())


def test_the_base_image_check_role_fits_iam_limits_at_the_largest_stack(tmp_path: Path) -> None:
    """Image constructs of one version each, every version from its own repository: the most the
    500 resources allow (image, role, two policies, version, and a check resource per 30 versions)."""
    per_image = 5
    small = build_checked(tmp_path, 4)
    images = (MAX_RESOURCES - (len(small["Resources"]) - 4 * per_image)) // per_image
    while True:
        try:
            template = build_checked(tmp_path, images)
        except RuntimeError as error:
            assert "TooManyResourcesInStack" in str(error) or "IAM's default quota" in str(error)
            images -= 1
            continue
        break
    resources = len(template["Resources"])
    assert resources <= MAX_RESOURCES < resources + per_image
    inline, managed = function_policies(template, base_image_check.PROVIDER_ID)
    assert sum(size(document) for document in inline) <= INLINE_LIMIT, [size(d) for d in inline]
    assert all(size(document) <= MANAGED_LIMIT for document in managed), [size(d) for d in managed]
    assert len(managed) <= MANAGED_PER_ROLE
    # Exactly one ARN per repository, nothing wider, and only the two reads.
    granted = sagemaker_resources(inline + managed)
    prefix = f"arn:{LONGEST['AWS::Partition']}:ecr:us-east-1:123456789012:repository/"
    assert sorted(granted) == sorted(f"{prefix}{repository(i)}" for i in range(images))
    actions = {
        action
        for document in inline + managed
        for statement in document["Statement"]
        for action in (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
    }
    assert actions == {"logs:CreateLogStream", "logs:PutLogEvents", *base_image_check.ECR_ACTIONS}
    print(
        f"{images} images, {resources} resources, inline {[size(d) for d in inline]}, managed {len(managed)}"
    )


# The Studio function's role grows by one ARN per existing target, the longest a user profile's:
# arn:<partition>:sagemaker:<region>:<account>:user-profile/<domain id, 63>/<profile name, 63>.
LONGEST_DOMAIN = "d-" + "a" * 61  # a domain id's 63 characters, SageMaker's longest


def profile(index: int) -> str:
    """A 63-character user profile name, the longest SageMaker allows."""
    return f"user-{index:03d}-".ljust(63, "x")


def build_studio(tmp_path: Path, profiles: int) -> dict[str, Any]:
    """One attachment to each of ``profiles`` distinct existing user profiles of the longest domain id."""
    app = cdk.App(outdir=str(tmp_path / f"studio-{profiles}"))
    stack = cdk.Stack(app, "Stack", stack_name=STACK_NAME)
    image = Image.from_image_name(stack, "Image", name(0))
    config = AppImageConfig.from_app_image_config_name(stack, "Config", "c" * 63, AppType.JUPYTER_LAB)
    for index in range(profiles):
        StudioAttachment(
            stack,
            f"A{index}",
            image=image,
            app_image_config=config,
            domain=LONGEST_DOMAIN,
            user_profile=profile(index),
        )
    return dict(Template.from_stack(stack).to_json())


def largest_studio_stack(tmp_path: Path) -> tuple[int, dict[str, Any], str]:
    """The most profiles (one attachment each) the library lets into one stack, its template, and the
    refusal of one more.

    Two limits refuse: aws-cdk-lib's 500 resources (TooManyResourcesInStack) and the library's check
    of IAM's 10 managed policies per role, whichever comes first. A bisection between a stack that
    synthesizes and one of 500 targets finds the boundary, so no per-target cost is assumed.
    """
    good, bad = 8, MAX_RESOURCES
    while bad - good > 1:
        middle = (good + bad) // 2
        try:
            build_studio(tmp_path, middle)
        except RuntimeError:
            bad = middle
            continue
        good = middle
    template = build_studio(tmp_path, good)
    with pytest.raises(RuntimeError) as refused:
        build_studio(tmp_path, good + 1)
    return good, template, str(refused.value)


@pytest.fixture(scope="module")
def studio_stack(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict[str, Any], str]:
    return largest_studio_stack(tmp_path_factory.mktemp("studio"))


def test_the_studio_function_role_fits_iam_policy_sizes_at_the_largest_stack(
    studio_stack: tuple[int, dict[str, Any], str],
) -> None:
    """Catches an ARN size estimate below the longest user profile ARN (CDK's default 150 overfills)."""
    profiles, template, _ = studio_stack
    assert len(template["Resources"]) <= MAX_RESOURCES
    inline, managed = function_policies(template, studio.PROVIDER_ID)
    print(
        f"{profiles} profiles, {len(template['Resources'])} resources, inline {[size(d) for d in inline]}, "
        f"managed {[size(d) for d in managed]}"
    )
    assert len(inline) == 1  # the DefaultPolicy
    assert sum(size(document) for document in inline) <= INLINE_LIMIT, [size(d) for d in inline]
    assert all(size(document) <= MANAGED_LIMIT for document in managed), [size(d) for d in managed]
    # Scoping kept: exactly each profile, and its ledger path and the records below it, nothing wider.
    granted = sagemaker_resources(inline + managed)
    arn = f"arn:{LONGEST['AWS::Partition']}:{{}}:{LONGEST['AWS::Region']}:123456789012:"
    ledger = f"{arn.format('ssm')}parameter{studio.LEDGER_PREFIX}/{LONGEST_DOMAIN}/user-profile"
    expected = [
        *(f"{arn.format('sagemaker')}user-profile/{LONGEST_DOMAIN}/{profile(i)}" for i in range(profiles)),
        *(f"{ledger}/{profile(i)}" for i in range(profiles)),
        *(f"{ledger}/{profile(i)}/*" for i in range(profiles)),
    ]
    assert max(len(arn) for arn in expected) == studio._StudioProvider.ARN_SIZE_ESTIMATE
    assert sorted(granted) == sorted(expected)


def test_the_studio_function_role_needs_at_most_10_managed_policies_and_one_more_target_is_refused(
    studio_stack: tuple[int, dict[str, Any], str],
) -> None:
    """Three ARNs of up to 234 characters per target (the target, its ledger path and the records below
    it): a stack of 500 resources would need far more than 10 OverflowPolicies. The library refuses at
    synth what IAM would refuse at deploy."""
    profiles, template, refusal = studio_stack
    _, managed = function_policies(template, studio.PROVIDER_ID)
    print(f"{profiles} profiles: {len(managed)} managed policies; one more: {refusal[:300]}")
    assert len(managed) <= MANAGED_PER_ROLE, len(managed)
    assert len(template["Resources"]) < MAX_RESOURCES  # the quota, not CloudFormation's limit, is first
    assert "more than IAM's default quota of 10 per role" in refusal
    assert studio.PROVIDER_ID in refusal
