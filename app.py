#!/usr/bin/env python3
"""The reference app: the Terraform awscc SageMaker image example, rebuilt with the library.

An Image ``example-sagemaker-image`` with its generated least-privilege role (SageMaker trust, ECR
pull on exactly the base image's repository) and one version from the PyTorch 1.8.1 training Deep
Learning Container, with the fixed alias ``v1`` and the floating aliases ``latest`` and ``stable``.
A JupyterLab ``AppImageConfig`` says how Studio runs it; with ``-c studio_domain_id=d-...`` the version
is also attached to that existing Studio domain (its DefaultUserSettings). Region-agnostic unless
CDK_DEFAULT_REGION is set (the CDK CLI sets it from the AWS configuration).
"""

from __future__ import annotations

import os

import aws_cdk as cdk
from constructs import Construct

from constructs_lib import (
    AppImageConfig,
    BaseImage,
    ContainerConfig,
    Image,
    JobType,
    Processor,
    VendorGuidance,
)


class SageMakerImageStack(cdk.Stack):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        env: cdk.Environment | None = None,
        studio_domain_id: str | None = None,
    ) -> None:
        super().__init__(scope, id, env=env)
        image = Image(self, "Image", image_name="example-sagemaker-image")
        version = image.add_version(
            "V1",
            base_image=BaseImage.from_deep_learning_container(
                "pytorch-training", "1.8.1-gpu-py36-cu111-ubuntu18.04"
            ),
            alias="v1",
            aliases=["latest", "stable"],  # floating: moved here from whichever version holds them
            horovod=True,
            job_type=JobType.TRAINING,
            ml_framework="PyTorch1.8",
            processor=Processor.GPU,
            programming_lang="Python3.6",
            release_notes="PyTorch 1.8.1 training image version",
            vendor_guidance=VendorGuidance.STABLE,
        )
        config = AppImageConfig(
            self, "JupyterLabConfig", jupyter_lab=ContainerConfig(environment={"TEAM": "ml-platform"})
        )
        if studio_domain_id:
            image.attach_to_studio(
                "Studio", app_image_config=config, version=version, domain=studio_domain_id
            )


def build_app(app: cdk.App | None = None) -> cdk.App:
    """The app as ``cdk synth`` sees it; tests synthesize it the same way."""
    app = app or cdk.App()
    region = os.environ.get("CDK_DEFAULT_REGION")
    account = os.environ.get("CDK_DEFAULT_ACCOUNT")
    env = cdk.Environment(account=account, region=region) if region else None
    domain = app.node.try_get_context("studio_domain_id")
    SageMakerImageStack(app, "SageMakerImageStack", env=env, studio_domain_id=domain)
    return app


if __name__ == "__main__":
    build_app().synth()
