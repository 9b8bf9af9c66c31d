"""Image: the CfnImage it renders, its generated role, given roles, attributes and imports."""

from __future__ import annotations

import json

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Annotations, Match, Template
from check_resources import depends_on, without_check

from constructs_lib import BaseImage, Image, ValidationError

PULL_ACTIONS = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]


def policies_of(template: Template) -> dict[str, dict]:  # type: ignore[type-arg]
    """The stack's IAM policies but the base image check's function's (tested in test_base_image_check)."""
    return without_check(template.find_resources("AWS::IAM::Policy"))


def only(template: Template, type_: str) -> tuple[str, dict]:  # type: ignore[type-arg]
    found = template.find_resources(type_)
    assert len(found) == 1, found
    return next(iter(found.items()))


def test_image_renders_cfn_image_with_every_property(stack: cdk.Stack) -> None:
    Image(stack, "Image", image_name="my-image", display_name="My Image", description="Training base")
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::SageMaker::Image", 1)
    template.has_resource_properties(
        "AWS::SageMaker::Image",
        {
            "ImageName": "my-image",
            "ImageDisplayName": "My Image",
            "ImageDescription": "Training base",
            "ImageRoleArn": {"Fn::GetAtt": [Match.string_like_regexp("^ImageRole"), "Arn"]},
        },
    )


def test_optional_properties_are_left_out_when_not_given(stack: cdk.Stack) -> None:
    Image(stack, "Image", image_name="my-image")
    _, image = only(Template.from_stack(stack), "AWS::SageMaker::Image")
    assert set(image["Properties"]) == {"ImageName", "ImageRoleArn"}


def test_generated_role_trusts_sagemaker_only_and_has_no_managed_policies(stack: cdk.Stack) -> None:
    Image(stack, "Image", image_name="my-image")
    _, role = only(Template.from_stack(stack), "AWS::IAM::Role")
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [
        {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}}
    ]
    assert "ManagedPolicyArns" not in role["Properties"]


def test_generated_role_pulls_exactly_the_versions_repositories(stack_in) -> None:  # type: ignore[no-untyped-def]
    stack = stack_in("eu-west-1")
    repo = ecr.Repository(stack, "Repo")
    image = Image(stack, "Image", image_name="my-image")
    image.add_version("V1", base_image=BaseImage.from_ecr_repository(repo, "1.0"))
    image.add_version("V2", base_image=BaseImage.from_deep_learning_container("pytorch-training", "2.1-gpu"))
    image.add_version(
        "V3", base_image=BaseImage.from_uri("123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/base:7")
    )
    template = Template.from_stack(stack)

    policies = policies_of(template)
    statements = {name: sorted_actions(policy) for name, policy in policies.items()}
    default = next(v for k, v in statements.items() if k.startswith("ImageRoleDefaultPolicy"))
    partition = {"Ref": "AWS::Partition"}
    assert default == [
        {
            "Action": PULL_ACTIONS,
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [template_id(template, "Repo"), "Arn"]},
        },
        {
            "Action": PULL_ACTIONS,
            "Effect": "Allow",
            "Resource": {
                "Fn::Join": [
                    "",
                    ["arn:", partition, ":ecr:eu-west-1:763104351884:repository/pytorch-training"],
                ]
            },
        },
        {
            "Action": PULL_ACTIONS,
            "Effect": "Allow",
            "Resource": {
                "Fn::Join": ["", ["arn:", partition, ":ecr:eu-west-1:123456789012:repository/team/base"]]
            },
        },
    ]
    authorization = next(v for k, v in statements.items() if k.startswith("ImageEcrAuthorizationPolicy"))
    assert authorization == [{"Action": "ecr:GetAuthorizationToken", "Effect": "Allow", "Resource": "*"}]
    assert len(statements) == 2


def sorted_actions(policy: dict) -> list[dict]:  # type: ignore[type-arg]
    """A policy's statements with action lists sorted (their order depends on feature flags)."""
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    return [
        {**s, "Action": sorted(s["Action"]) if isinstance(s["Action"], list) else s["Action"]}
        for s in statements
    ]


def template_id(template: Template, prefix: str) -> str:
    resources = template.to_json()["Resources"]
    return next(name for name in resources if name.startswith(prefix))


def test_cfn_image_depends_on_both_policies_of_its_role(stack: cdk.Stack) -> None:
    image = Image(stack, "Image", image_name="my-image")
    image.add_version("V1", base_image=BaseImage.from_deep_learning_container("pytorch-training", "2.1-gpu"))
    template = Template.from_stack(stack)
    _, cfn_image = only(template, "AWS::SageMaker::Image")
    assert set(cfn_image["DependsOn"]) == {
        template_id(template, "ImageRoleDefaultPolicy"),
        template_id(template, "ImageEcrAuthorizationPolicy"),
    }


def test_given_mutable_role_gets_the_same_grants_and_no_role_is_generated(stack_in) -> None:  # type: ignore[no-untyped-def]
    stack = stack_in("us-west-2")
    role = iam.Role.from_role_arn(stack, "Given", "arn:aws:iam::111122223333:role/platform-sagemaker")
    image = Image(stack, "Image", image_name="my-image", role=role)
    image.add_version("V1", base_image=BaseImage.from_deep_learning_container("pytorch-training", "2.1-gpu"))
    template = Template.from_stack(stack)
    assert without_check(template.find_resources("AWS::IAM::Role")) == {}
    template.has_resource_properties(
        "AWS::SageMaker::Image", {"ImageRoleArn": "arn:aws:iam::111122223333:role/platform-sagemaker"}
    )
    policies = policies_of(template)
    assert {p["Properties"]["Roles"][0] for p in policies.values()} == {"platform-sagemaker"}
    # The pull grant goes where grants go (the role's DefaultPolicy); the "*" stays in the library's own.
    default = policies[template_id(template, "GivenPolicy")]
    assert [s["Action"] for s in sorted_actions(default)] == [PULL_ACTIONS]
    authorization = policies[template_id(template, "ImageEcrAuthorizationPolicy")]
    assert authorization["Properties"]["PolicyDocument"]["Statement"] == [
        {"Action": "ecr:GetAuthorizationToken", "Effect": "Allow", "Resource": "*"}
    ]
    assert image.role is role
    _, cfn_image = only(template, "AWS::SageMaker::Image")
    assert set(cfn_image["DependsOn"]) == {
        template_id(template, "GivenPolicy"),
        template_id(template, "ImageEcrAuthorizationPolicy"),
    }


@pytest.mark.parametrize("how", ["from_role_arn", "without_policy_updates", "other_account"])
def test_given_immutable_role_is_left_untouched_with_a_warning(stack_in, how: str) -> None:  # type: ignore[no-untyped-def]
    stack = stack_in("us-west-2")
    if how == "from_role_arn":
        arn = "arn:aws:iam::111122223333:role/locked"
        role = iam.Role.from_role_arn(stack, "Given", arn, mutable=False)
    elif how == "other_account":  # CDK cannot change a role of another account
        role = iam.Role.from_role_arn(stack, "Given", "arn:aws:iam::444455556666:role/locked")
    else:
        role = iam.Role(
            stack, "Given", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com")
        ).without_policy_updates()
    image = Image(stack, "Image", image_name="my-image", role=role)
    image.add_version("V1", base_image=BaseImage.from_deep_learning_container("pytorch-training", "2.1-gpu"))
    template = Template.from_stack(stack)
    assert policies_of(template) == {}
    template.resource_count_is("AWS::IAM::ManagedPolicy", 0)
    (warning,) = Annotations.from_stack(stack).find_warning("/Stack-us-west-2/Image", Match.any_value())
    message = warning.entry.data
    assert "[ack: @sagemaker-image-constructs/image:immutable-role]" in message
    for action in ["ecr:GetAuthorizationToken", *PULL_ACTIONS]:
        assert action in message


def test_a_mutable_role_gets_no_immutable_role_warning(stack: cdk.Stack) -> None:
    role = iam.Role.from_role_arn(stack, "Given", "arn:aws:iam::111122223333:role/open")
    Image(stack, "Image", image_name="my-image", role=role)
    Image(stack, "Generated", image_name="other-image")
    assert Annotations.from_stack(stack).find_warning("*", Match.any_value()) == []


def test_images_sharing_a_role_share_its_one_authorization_policy(stack: cdk.Stack) -> None:
    """Each inline policy counts toward the role's 10,240 characters: one "*" statement serves all."""
    role = iam.Role(stack, "Shared", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    for index in range(5):
        Image(stack, f"Image{index}", image_name=f"image-{index}", role=role)
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::IAM::Policy", 1)
    authorization = template_id(template, "Image0EcrAuthorizationPolicy")
    for image in template.find_resources("AWS::SageMaker::Image").values():
        assert image["DependsOn"] == [authorization]


def test_attributes_and_grant_principal(stack: cdk.Stack) -> None:
    image = Image(stack, "Image", image_name="my-image")
    resolved = stack.resolve(image.image_arn)
    assert resolved == {"Fn::GetAtt": [template_id(Template.from_stack(stack), "Image9"), "ImageArn"]}
    assert stack.resolve(image.image_name) == "my-image"
    assert image.grant_principal is image.role.grant_principal
    assert isinstance(image.role, iam.Role)


def test_tags_reach_the_cfn_image(stack: cdk.Stack) -> None:
    image = Image(stack, "Image", image_name="my-image")
    cdk.Tags.of(image).add("team", "ml-platform")
    Template.from_stack(stack).has_resource_properties(
        "AWS::SageMaker::Image", {"Tags": [{"Key": "team", "Value": "ml-platform"}]}
    )


def test_removal_policy_applies_to_the_cfn_image(stack: cdk.Stack) -> None:
    image = Image(stack, "Image", image_name="my-image")
    image.apply_removal_policy(cdk.RemovalPolicy.RETAIN)
    Template.from_stack(stack).has_resource("AWS::SageMaker::Image", {"DeletionPolicy": "Retain"})


def test_from_image_name_builds_a_partition_aware_arn(stack: cdk.Stack) -> None:
    imported = Image.from_image_name(stack, "Imported", "shared-image")
    assert imported.image_name == "shared-image"
    assert stack.resolve(imported.image_arn) == {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":sagemaker:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                ":image/shared-image",
            ],
        ]
    }


def test_from_image_name_validates_a_literal_name(stack: cdk.Stack) -> None:
    with pytest.raises(ValidationError, match=r"image_name 'bad_name'.*pattern"):
        Image.from_image_name(stack, "Imported", "bad_name")


def test_from_image_arn_parses_name_and_environment(stack: cdk.Stack) -> None:
    arn = "arn:aws-cn:sagemaker:cn-north-1:444455556666:image/shared-image"
    imported = Image.from_image_arn(stack, "Imported", arn)
    assert imported.image_name == "shared-image"
    assert imported.image_arn == arn
    assert imported.env.account == "444455556666"
    assert imported.env.region == "cn-north-1"


def test_from_image_arn_refuses_a_token_and_says_what_to_use(stack: cdk.Stack) -> None:
    arn = cdk.CfnParameter(stack, "ImageArn").value_as_string
    with pytest.raises(ValidationError, match=r"unresolved token.*Image\.from_image_name"):
        Image.from_image_arn(stack, "Imported", arn)


@pytest.mark.parametrize(
    "arn",
    [
        "not-an-arn",
        "arn:aws:s3:us-east-1:111122223333:image/x",
        "arn:aws:sagemaker:us-east-1:111122223333:image-version/x/1",
        "arn:aws:sagemaker:us-east-1:111122223333:image",
    ],
)
def test_from_image_arn_refuses_other_arns(stack: cdk.Stack, arn: str) -> None:
    with pytest.raises(ValidationError, match=r"image/<name>"):
        Image.from_image_arn(stack, "Imported", arn)


def test_versions_of_an_imported_image_are_chained_and_grant_nothing(stack: cdk.Stack) -> None:
    imported = Image.from_image_name(stack, "Imported", "shared-image")
    imported.add_version(
        "V1", base_image=BaseImage.from_deep_learning_container("pytorch-training", "2.1-gpu")
    )
    imported.add_version(
        "V2", base_image=BaseImage.from_deep_learning_container("pytorch-training", "2.2-gpu")
    )
    template = Template.from_stack(stack)
    assert policies_of(template) == {}
    versions = template.find_resources("AWS::SageMaker::ImageVersion")
    assert {v["Properties"]["ImageName"] for v in versions.values()} == {"shared-image"}
    first, second = sorted(versions, key=lambda name: "V2" in name)
    assert depends_on(versions[first]) == []
    assert depends_on(versions[second]) == [first]


@pytest.mark.parametrize("region", [None, "eu-west-1"])
def test_versions_sharing_a_repository_grant_it_once(app: cdk.App, region: str | None) -> None:
    env = cdk.Environment(account="111122223333", region=region) if region else None
    stack = cdk.Stack(app, "Shared", env=env)
    image = Image(stack, "Image", image_name="my-image")
    for n in range(3):
        image.add_version(
            f"V{n}", base_image=BaseImage.from_deep_learning_container("pytorch-training", f"2.{n}")
        )
    image.add_version(
        "Other", base_image=BaseImage.from_deep_learning_container("tensorflow-training", "2.14")
    )
    template = Template.from_stack(stack)
    default = next(v for k, v in policies_of(template).items() if "DefaultPolicy" in k)
    resources = [json.dumps(s["Resource"]) for s in default["Properties"]["PolicyDocument"]["Statement"]]
    assert len(resources) == 2
    assert "repository/pytorch-training" in resources[0] and "repository/tensorflow-training" in resources[1]
