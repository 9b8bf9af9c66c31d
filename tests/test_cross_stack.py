"""Images and versions across stacks, nested stacks and environments: no cycles, or a clear error."""

from __future__ import annotations

import re

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ecr as ecr
from aws_cdk.assertions import Template
from check_resources import depends_on, without_check

from constructs_lib import BaseImage, Image, ImageVersion, ValidationError

PULL_ACTIONS = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
ENV = cdk.Environment(account="111122223333", region="us-east-1")


def dlc(tag: str = "2.1") -> BaseImage:
    return BaseImage.from_deep_learning_container("pytorch-training", tag)


def logical_id(template: Template, type_: str, prefix: str) -> str:
    (found,) = [k for k in template.find_resources(type_) if k.startswith(prefix)]
    return found


def test_version_and_repository_in_another_stack_than_the_image(app: cdk.App) -> None:
    a = cdk.Stack(app, "A", env=ENV)
    b = cdk.Stack(app, "B", env=ENV)
    image = Image(a, "Image", image_name="shared")
    repository = ecr.Repository(b, "Repo")
    ImageVersion(b, "V1", image=image, base_image=BaseImage.from_ecr_repository(repository, "1.0"))
    assembly = app.synth()  # a DependencyCycle would raise here
    assert [s.id for s in assembly.get_stack_by_name("B").dependencies if not s.id.endswith(".assets")] == [
        "A"
    ]

    a_template, b_template = Template.from_stack(a), Template.from_stack(b)
    # The image's stack names nothing of B: its role's policies hold only the "*" for registry logins.
    assert "Repo" not in str(a_template.to_json())
    # The pull grant sits in B, on the image's role, and the version (not the image) waits for it.
    policy_id = logical_id(b_template, "AWS::IAM::Policy", "V1BaseImagePullPolicy")
    policy = b_template.find_resources("AWS::IAM::Policy")[policy_id]["Properties"]
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert sorted(statement["Action"]) == PULL_ACTIONS
    assert statement["Resource"] == {
        "Fn::GetAtt": [logical_id(b_template, "AWS::ECR::Repository", "Repo"), "Arn"]
    }
    assert len(policy["Roles"]) == 1 and "Fn::ImportValue" in policy["Roles"][0]
    version = b_template.find_resources("AWS::SageMaker::ImageVersion")
    assert depends_on(next(iter(version.values()))) == [policy_id]  # and B's base image check
    (cfn_image,) = a_template.find_resources("AWS::SageMaker::Image").values()
    assert not any("Pull" in dependency for dependency in cfn_image["DependsOn"])


def test_versions_in_one_other_stack_share_one_pull_policy(app: cdk.App) -> None:
    a, b = cdk.Stack(app, "A", env=ENV), cdk.Stack(app, "B", env=ENV)
    image = Image(a, "Image", image_name="shared")
    repository = ecr.Repository(b, "Repo")
    ImageVersion(b, "V1", image=image, base_image=BaseImage.from_ecr_repository(repository, "1.0"))
    ImageVersion(b, "V2", image=image, base_image=BaseImage.from_ecr_repository(repository, "2.0"))
    ImageVersion(b, "V3", image=image, base_image=dlc())
    app.synth()
    template = Template.from_stack(b)
    assert len(without_check(template.find_resources("AWS::IAM::Policy"))) == 1  # and the check's own
    policy_id = logical_id(template, "AWS::IAM::Policy", "V1BaseImagePullPolicy")
    for version in template.find_resources("AWS::SageMaker::ImageVersion").values():
        assert policy_id in version["DependsOn"]


def test_same_stack_keeps_the_grant_on_the_images_role_before_the_image(stack: cdk.Stack) -> None:
    image = Image(stack, "Image", image_name="local")
    image.add_version("V1", base_image=BaseImage.from_ecr_repository(ecr.Repository(stack, "Repo"), "1"))
    template = Template.from_stack(stack)
    assert not [k for k in template.find_resources("AWS::IAM::Policy") if "BaseImagePullPolicy" in k]
    (cfn_image,) = template.find_resources("AWS::SageMaker::Image").values()
    assert logical_id(template, "AWS::IAM::Policy", "ImageRoleDefaultPolicy") in cfn_image["DependsOn"]


def test_a_nested_stack_version_with_its_own_repository_synthesizes(app: cdk.App) -> None:
    a = cdk.Stack(app, "A", env=ENV)
    nested = cdk.NestedStack(a, "Nested")
    image = Image(a, "Image", image_name="shared")
    repository = ecr.Repository(nested, "Repo")
    ImageVersion(nested, "V1", image=image, base_image=BaseImage.from_ecr_repository(repository, "1.0"))
    image.add_version("V2", base_image=dlc())  # in the parent, after the nested stack: no cycle
    app.synth()


def test_versions_in_an_order_cloudformation_cannot_keep_are_refused(app: cdk.App) -> None:
    a, b = cdk.Stack(app, "A", env=ENV), cdk.Stack(app, "B", env=ENV)
    image = Image(a, "Image", image_name="shared")
    ImageVersion(b, "V1", image=image, base_image=dlc())
    with pytest.raises(ValidationError) as error:
        image.add_version("V2", base_image=dlc("2.2"))
    message = str(error.value)
    for name in ("'A/Image/V2'", "'B/V1'", "stack 'B'", "stack 'A'", "deployment order"):
        assert name in message, message


def test_an_explicit_stack_dependency_is_part_of_the_order(app: cdk.App) -> None:
    """Imported by name, the image references no stack: B waits for C only because the user says so."""
    b, c = cdk.Stack(app, "B", env=ENV), cdk.Stack(app, "C", env=ENV)
    b.add_dependency(c)
    image = Image.from_image_name(b, "Image", "shared")
    ImageVersion(b, "V1", image=image, base_image=dlc())
    with pytest.raises(ValidationError, match=re.escape("'C/V2'")):
        ImageVersion(c, "V2", image=image, base_image=dlc("2.2"))


def test_versions_declared_in_deployment_order_across_stacks_synthesize(app: cdk.App) -> None:
    a, b, c = (cdk.Stack(app, name, env=ENV) for name in "ABC")
    image = Image(a, "Image", image_name="shared")
    image.add_version("V1", base_image=dlc())
    v2 = ImageVersion(b, "V2", image=image, base_image=dlc("2.2"))
    v3 = ImageVersion(c, "V3", image=image, base_image=dlc("2.3"), aliases=["latest"])
    assembly = app.synth()
    assert {s.id for s in assembly.get_stack_by_name("C").dependencies} - {"C.assets"} == {"A", "B"}
    assert Template.from_stack(c).to_json()["Resources"][c.get_logical_id(v3.resource)]["DependsOn"]
    assert v2.node.path == "B/V2"


@pytest.mark.parametrize(
    ("other", "named"),
    [
        (cdk.Environment(account="444455556666", region="us-east-1"), "'444455556666'"),
        (cdk.Environment(account="111122223333", region="eu-west-1"), "'eu-west-1'"),
    ],
)
def test_a_version_in_another_environment_than_its_image_is_refused(
    app: cdk.App, other: cdk.Environment, named: str
) -> None:
    image = Image(cdk.Stack(app, "A", env=ENV), "Image", image_name="shared")
    with pytest.raises(ValidationError) as error:
        ImageVersion(cdk.Stack(app, "B", env=other), "V1", image=image, base_image=dlc())
    assert named in str(error.value) and "'111122223333'" in str(error.value)
    assert "'us-east-1'" in str(error.value)


def test_an_image_imported_from_another_environment_is_refused(app: cdk.App) -> None:
    stack = cdk.Stack(app, "B", env=ENV)
    arn = "arn:aws:sagemaker:eu-west-1:111122223333:image/elsewhere"
    image = Image.from_image_arn(stack, "Image", arn)
    with pytest.raises(ValidationError, match="'eu-west-1'"):
        image.add_version("V1", base_image=dlc())


def test_unresolved_environments_pass(app: cdk.App) -> None:
    image = Image(cdk.Stack(app, "A"), "Image", image_name="shared")
    ImageVersion(cdk.Stack(app, "B", env=ENV), "V1", image=image, base_image=dlc())
    agnostic = cdk.Stack(app, "C")
    imported = Image.from_image_arn(agnostic, "Imported", "arn:aws:sagemaker:eu-west-1:111122223333:image/x")
    imported.add_version("V1", base_image=dlc())
