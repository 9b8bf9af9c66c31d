#!/usr/bin/env python3
"""Integration test: a floating alias really moves between two versions of one SageMaker image.

``make integ`` deploys it, reads its assertion results and destroys it (``run_integ.py``; it needs AWS
credentials); ``make integ-synth`` only synthesizes it, offline. The file keeps integ-runner's layout
(``integ_*.py``, ``IntegTest``) for when integ-runner can read this aws-cdk-lib's cloud assembly.

Why one deployment holds both claims: a move needs ``latest`` on version 1 *before* version 2 claims it.
The library refuses two claims on one ``Image`` object at synth time, which is right within one app,
so version 2 is declared through a second handle on the same image (``Image.from_image_name``), the way
another app or a later deployment sees it. In one CloudFormation deployment, ordered by DependsOn:

1. ``V1`` (fixed alias ``v1``) and its ``Aliases`` resource put ``latest`` on version 1 (nobody held it);
2. ``LatestBeforeMove`` calls DescribeImageVersion(Alias=latest), which fails the deployment unless
   some version holds ``latest``; version 2 does not exist yet, so that is version 1;
3. ``V2`` is created, then its ``Aliases`` resource moves ``latest``: off version 1, onto version 2.

The assertions (their own stack, deployed after the test stack) check the end state: version 2 holds only
``latest``, version 1 holds only ``v1``, and the alias ``latest`` names version 2. On destroy, version 2's
resource takes ``latest`` off, and version 1's finds it gone and leaves ``v1`` alone.

Limits: this is the second deployment of the real two-deployment story compressed into one; version
1's ``Aliases`` resource still lists ``latest``, which a real app would have dropped. The image name is
fixed (an integ-runner snapshot cannot hold a per-run name), so one run per account and region at a time.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import custom_resources as cr
from aws_cdk.integ_tests_alpha import ExpectedResult, IntegTest

from constructs_lib import BaseImage, Image, ImageVersion

IMAGE_NAME = "integ-sagemaker-image-aliases"
FLOATING = "latest"
# The image is new in this stack and its versions are created in order, so SageMaker numbers them 1, 2.
V1, V2 = 1, 2


def base_image() -> BaseImage:
    """The reference app's base image: a public Deep Learning Container, so no Docker build is needed."""
    return BaseImage.from_deep_learning_container("pytorch-training", "1.8.1-gpu-py36-cu111-ubuntu18.04")


class ImageAliasesStack(cdk.Stack):
    """One image, two versions, and ``latest`` claimed by version 1, then moved to version 2."""

    def __init__(self, scope: cdk.App, id: str) -> None:
        super().__init__(scope, id, description="Integration test: sagemaker-image-constructs alias move")
        image = Image(self, "Image", image_name=IMAGE_NAME)
        first = image.add_version("V1", base_image=base_image(), alias="v1", aliases=[FLOATING])

        image_versions = self.format_arn(
            service="sagemaker", resource="image-version", resource_name=f"{IMAGE_NAME}/*"
        )
        before_move = cr.AwsCustomResource(
            self,
            "LatestBeforeMove",
            on_create=cr.AwsSdkCall(
                service="SageMaker",
                action="describeImageVersion",
                parameters={"ImageName": IMAGE_NAME, "Alias": FLOATING},
                physical_resource_id=cr.PhysicalResourceId.of(f"{IMAGE_NAME}/{FLOATING}/before-move"),
                output_paths=["Version"],
            ),
            policy=cr.AwsCustomResourcePolicy.from_sdk_calls(
                resources=[image.image_arn, image_versions],
            ),
            install_latest_aws_sdk=False,
        )
        before_move.node.add_dependency(first.node.find_child("Aliases"))

        # A second handle on the same image, so that the library lets version 2 claim `latest` too. Its
        # name is the Image's own (token) name, so the aliases function's policy names the image once.
        same_image = Image.from_image_name(self, "SameImage", image.image_name)
        second = ImageVersion(self, "V2", image=same_image, base_image=base_image(), aliases=[FLOATING])
        second.node.add_dependency(before_move)

        cdk.CfnOutput(self, "LatestVersionBeforeMove", value=before_move.get_response_field("Version"))


def build_app() -> cdk.App:
    """The test stack, the IntegTest around it, and its assertions."""
    app = cdk.App()
    stack = ImageAliasesStack(app, "IntegSageMakerImageAliases")
    # Its own assertion stack, ordered after the test stack, so a plain `cdk deploy --all` runs it last.
    assertions = cdk.Stack(app, "IntegSageMakerImageAliasesAssertions")
    assertions.add_stack_dependency(stack)
    integ = IntegTest(
        app,
        "ImageAliases",
        test_cases=[stack],
        assertion_stack=assertions,
        # One deployment from empty: re-deploying an older snapshot first would not exercise the move.
        stack_update_workflow=False,
        # For integ-runner: the aliases function's asset hash is deterministic, so snapshot diffs include it.
        diff_assets=True,
    )
    aliases_of_v2 = integ.assertions.aws_api_call(
        "SageMaker", "listAliases", {"ImageName": IMAGE_NAME, "Version": V2}
    )
    aliases_of_v2.expect(ExpectedResult.object_like({"SageMakerImageVersionAliases": [FLOATING]}))
    aliases_of_v1 = integ.assertions.aws_api_call(
        "SageMaker", "listAliases", {"ImageName": IMAGE_NAME, "Version": V1}
    )
    aliases_of_v1.expect(ExpectedResult.object_like({"SageMakerImageVersionAliases": ["v1"]}))
    holder = integ.assertions.aws_api_call(
        "SageMaker", "describeImageVersion", {"ImageName": IMAGE_NAME, "Alias": FLOATING}
    )
    holder.expect(ExpectedResult.object_like({"Version": V2}))
    return app


if __name__ == "__main__":
    build_app().synth()
