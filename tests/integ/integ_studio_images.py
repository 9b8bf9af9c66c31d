#!/usr/bin/env python3
"""Integration test: an image version really gets listed in an existing Studio domain.

It needs a domain that already exists: the context value ``integ_domain_id`` (``d-...``) names it.
``make integ INTEG_ARGS="-c integ_domain_id=d-..."`` deploys this app, reads its assertion result and
destroys it (``run_integ.py``; without the value it skips this test and says so). ``make integ-synth``
synthesizes it offline with the placeholder domain ``d-integsynth0``.

The test stack holds, through the library's public API only: an ``Image`` with one ``ImageVersion``
(the aliases test's base image, a public Deep Learning Container, so no Docker build), a JupyterLab
``AppImageConfig``, and ``image.attach_to_studio(..., domain="d-...")``, which lists the version in the
domain's ``DefaultUserSettings.JupyterLabAppSettings.CustomImages`` through the library's custom
resource (it waits for the domain to be ``InService`` again and reads the entry back).

The assertion (its own stack, deployed after the test stack) calls SageMaker ``DescribeDomain`` and
expects the domain ``InService`` with an entry of this image, version 1 and this config among its
JupyterLab custom images (other entries the domain has are left alone and allowed). Destroying the test
stack takes the entry off the domain again.

SageMaker describes the image with the domain's execution role when it updates the domain, so that role
must be able to read the image. With ``-c integ_domain_role_arn=arn:aws:iam::...:role/...`` (the
domain's ``DefaultUserSettings.ExecutionRole``) the stack grants it ``image.grant_read`` (an inline
policy on that role, removed on destroy) before the attachment; without it, no grant is made and the
role must already allow ``sagemaker:DescribeImage``/``DescribeImageVersion`` on the image (for example
through ``AmazonSageMakerFullAccess``).

Limits: the image and config names are fixed (an integ-runner snapshot cannot hold per-run names), so
one run per account and region at a time. integ-tests-alpha returns the whole DescribeDomain answer
with the assertion's result, and CloudFormation takes at most 4 KB from a custom resource: a domain
with very many settings fails the assertion stack with "Response object is too long".
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk.integ_tests_alpha import ExpectedResult, IntegTest, Match
from integ_image_aliases import base_image

from constructs_lib import AppImageConfig, AppType, ContainerConfig, Image

DOMAIN_CONTEXT = "integ_domain_id"
ROLE_CONTEXT = "integ_domain_role_arn"
TEST_STACK = "IntegSageMakerStudioImages"
ASSERTION_STACK = "IntegSageMakerStudioImagesAssertions"
IMAGE_NAME = "integ-sagemaker-studio-image"
CONFIG_NAME = "integ-sagemaker-studio-lab"
# The image is new in this stack, so SageMaker numbers its only version 1.
VERSION = 1


class StudioImagesStack(cdk.Stack):
    """One image with one version, a JupyterLab config, and the version listed in an existing domain."""

    def __init__(self, scope: cdk.App, id: str, *, domain_id: str, role_arn: str | None) -> None:
        super().__init__(scope, id, description="Integration test: sagemaker-image-constructs Studio")
        image = Image(self, "Image", image_name=IMAGE_NAME)
        version = image.add_version("V1", base_image=base_image())
        lab = AppImageConfig(self, "Lab", app_image_config_name=CONFIG_NAME, jupyter_lab=ContainerConfig())
        attachment = image.attach_to_studio("Studio", app_image_config=lab, version=version, domain=domain_id)
        if role_arn:
            # The domain's role, known only when given: read before SageMaker checks it on UpdateDomain.
            role = iam.Role.from_role_arn(self, "DomainRole", role_arn, mutable=True)
            grant = image.grant_read(role)
            assert attachment.resource is not None  # an existing domain: the custom resource
            grant.apply_before(attachment.resource)


def build_app() -> cdk.App:
    """The test stack, the IntegTest around it, and its DescribeDomain assertion."""
    app = cdk.App()
    domain_id = app.node.try_get_context(DOMAIN_CONTEXT)
    if not domain_id:
        raise SystemExit(f"integ_studio_images.py: needs an existing domain, -c {DOMAIN_CONTEXT}=d-...")
    stack = StudioImagesStack(
        app, TEST_STACK, domain_id=domain_id, role_arn=app.node.try_get_context(ROLE_CONTEXT)
    )
    # Its own assertion stack, ordered after the test stack, so a plain `cdk deploy --all` runs it last.
    assertions = cdk.Stack(app, ASSERTION_STACK)
    assertions.add_stack_dependency(stack)
    integ = IntegTest(
        app,
        "StudioImages",
        test_cases=[stack],
        assertion_stack=assertions,
        stack_update_workflow=False,
        diff_assets=True,
    )
    describe = integ.assertions.aws_api_call("SageMaker", "describeDomain", {"DomainId": domain_id})
    # integ-tests-alpha already allows the call on "*"; this names the one domain the test reads.
    describe.provider.add_policy_statement_from_sdk_call(
        "SageMaker",
        "describeDomain",
        [assertions.format_arn(service="sagemaker", resource="domain", resource_name=domain_id)],
    )
    entry = {"ImageName": IMAGE_NAME, "AppImageConfigName": CONFIG_NAME, "ImageVersionNumber": VERSION}
    # Among the domain's JupyterLab images (it may list others), InService again after the update.
    listed = {"CustomImages": Match.array_with([Match.object_like(entry)])}
    settings = {f"{AppType.JUPYTER_LAB.value}AppSettings": listed}
    describe.expect(
        ExpectedResult.object_like(
            {"DomainId": domain_id, "Status": "InService", "DefaultUserSettings": settings}
        )
    )
    return app


if __name__ == "__main__":
    build_app().synth()
