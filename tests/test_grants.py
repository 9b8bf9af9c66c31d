"""Other constructs grant to an Image (jsii sees it as an iam.IGrantable); the grants land on its role."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Template

from constructs_lib import Image

PULL_ACTIONS = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]


def role_statements(stack: cdk.Stack, role_id: str) -> list[dict]:  # type: ignore[type-arg]
    """The statements of every policy attached to the role whose logical id starts with role_id."""
    template = Template.from_stack(stack)
    (role,) = [k for k in template.find_resources("AWS::IAM::Role") if k.startswith(role_id)]
    return [
        statement
        for policy in template.find_resources("AWS::IAM::Policy").values()
        if {"Ref": role} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_an_ecr_repository_grants_pull_to_the_image(stack: cdk.Stack) -> None:
    image = Image(stack, "Image", image_name="my-image")
    repository = ecr.Repository(stack, "Repo")
    repository.grant_pull(image)
    statements = role_statements(stack, "ImageRole")
    repo_arn = {"Fn::GetAtt": [stack.get_logical_id(repository.node.default_child), "Arn"]}  # type: ignore[arg-type]
    pulls = [s for s in statements if s["Resource"] == repo_arn]
    assert [sorted(s["Action"]) for s in pulls] == [PULL_ACTIONS]


def test_a_bucket_grants_read_to_the_image(stack: cdk.Stack) -> None:
    image = Image(stack, "Image", image_name="my-image")
    bucket = s3.Bucket(stack, "Bucket")
    bucket.grant_read(image)
    actions = [s["Action"] for s in role_statements(stack, "ImageRole")]
    assert ["s3:GetObject*", "s3:GetBucket*", "s3:List*"] in actions


def test_grant_principal_is_the_given_roles(stack: cdk.Stack) -> None:
    role = iam.Role(stack, "Given", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    image = Image(stack, "Image", image_name="my-image", role=role)
    ecr.Repository(stack, "Repo").grant_pull(image)
    assert any(sorted(s["Action"]) == PULL_ACTIONS for s in role_statements(stack, "Given"))


def test_an_image_is_accepted_wherever_an_igrantable_is(stack: cdk.Stack) -> None:
    """iam.Grant itself, called the way every aws-cdk-lib grant method calls it."""
    image = Image(stack, "Image", image_name="my-image")
    grant = iam.Grant.add_to_principal(
        grantee=image, actions=["sagemaker:DescribeImage"], resource_arns=[image.image_arn]
    )
    assert grant.success
    assert any(s["Action"] == "sagemaker:DescribeImage" for s in role_statements(stack, "ImageRole"))
