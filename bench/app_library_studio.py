#!/usr/bin/env python3
"""Benchmark app "studio", library side: the images of ``app_library.py``, each with an
``AppImageConfig`` and its Studio attachments (``image.attach_to_studio``).

The attachments go both to an existing domain by id (its default user and space settings, its
profiles and a space: the custom resource) and to a ``CfnDomain`` and ``CfnUserProfile`` this app
defines (merged into their properties at synth). The workload is ``studio()`` in ``bench/workload.py``.
"""

from __future__ import annotations

import aws_cdk as cdk
from app_library import add_images
from aws_cdk import aws_sagemaker as sagemaker
from workload import (
    ACCOUNT,
    EXISTING_DOMAIN_ID,
    REGION,
    STUDIO_STACK_ID,
    TEAM_DOMAIN_NAME,
    TEAM_DOMAIN_OWN_IMAGE,
    TEAM_EXECUTION_ROLE,
    TEAM_PROFILE_NAME,
    TEAM_PROFILE_OWN_IMAGE,
    TEAM_SUBNET_IDS,
    TEAM_VPC_ID,
    ConfigSpec,
    studio,
)

from constructs_lib import (
    AppImageConfig,
    ContainerConfig,
    FileSystemConfig,
    ImageVersion,
    KernelGatewayConfig,
    KernelSpec,
)


def team_domain(stack: cdk.Stack) -> tuple[sagemaker.CfnDomain, sagemaker.CfnUserProfile]:
    """The app's own domain and profile, with one entry each written by hand (the merge keeps it)."""
    custom_image = sagemaker.CfnDomain.CustomImageProperty
    domain = sagemaker.CfnDomain(
        stack,
        "TeamDomain",
        domain_name=TEAM_DOMAIN_NAME,
        auth_mode="IAM",
        vpc_id=TEAM_VPC_ID,
        subnet_ids=TEAM_SUBNET_IDS,
        default_user_settings=sagemaker.CfnDomain.UserSettingsProperty(
            execution_role=TEAM_EXECUTION_ROLE,
            kernel_gateway_app_settings=sagemaker.CfnDomain.KernelGatewayAppSettingsProperty(
                custom_images=[
                    custom_image(
                        image_name=TEAM_DOMAIN_OWN_IMAGE["ImageName"],
                        app_image_config_name=TEAM_DOMAIN_OWN_IMAGE["AppImageConfigName"],
                    )
                ]
            ),
        ),
    )
    profile = sagemaker.CfnUserProfile(
        stack,
        "TeamProfile",
        domain_id=domain.attr_domain_id,
        user_profile_name=TEAM_PROFILE_NAME,
        user_settings=sagemaker.CfnUserProfile.UserSettingsProperty(
            jupyter_lab_app_settings=sagemaker.CfnUserProfile.JupyterLabAppSettingsProperty(
                custom_images=[
                    sagemaker.CfnUserProfile.CustomImageProperty(
                        image_name=str(TEAM_PROFILE_OWN_IMAGE["ImageName"]),
                        app_image_config_name=str(TEAM_PROFILE_OWN_IMAGE["AppImageConfigName"]),
                        image_version_number=int(TEAM_PROFILE_OWN_IMAGE["ImageVersionNumber"]),
                    )
                ]
            )
        ),
    )
    return domain, profile


def app_image_config(stack: cdk.Stack, spec: ConfigSpec) -> AppImageConfig:
    if spec.app_type == "KernelGateway":
        return AppImageConfig(
            stack,
            spec.id,
            app_image_config_name=spec.name,
            kernel_gateway=KernelGatewayConfig(
                kernel_specs=[KernelSpec(spec.kernel_name, spec.kernel_display_name)],
                file_system=FileSystemConfig(
                    mount_path=spec.mount_path, default_uid=spec.uid_gid[0], default_gid=spec.uid_gid[1]
                ),
            ),
        )
    return AppImageConfig(
        stack,
        spec.id,
        app_image_config_name=spec.name,
        jupyter_lab=ContainerConfig(arguments=spec.arguments, environment=spec.environment),
    )


def build(app: cdk.App) -> cdk.Stack:
    """One stack: the images, the team's domain and profile, and every config and attachment."""
    stack = cdk.Stack(app, STUDIO_STACK_ID, env=cdk.Environment(account=ACCOUNT, region=REGION))
    added = add_images(stack)
    domain, profile = team_domain(stack)
    for spec in studio():
        image, versions = added[spec.image_id]
        config = app_image_config(stack, spec.config)
        for attachment in spec.attachments:
            version: ImageVersion | int | None = (
                versions[-1] if attachment.version == "latest" else attachment.version  # type: ignore[assignment]
            )
            image.attach_to_studio(
                attachment.id,
                app_image_config=config,
                version=version,
                domain=EXISTING_DOMAIN_ID if attachment.target == "existing" else domain,
                user_profile=profile if attachment.target == "team-profile" else attachment.user_profile,
                space=attachment.space,
                default_space_settings=attachment.default_space_settings,
            )
    return stack


if __name__ == "__main__":
    application = cdk.App()
    build(application)
    application.synth()
