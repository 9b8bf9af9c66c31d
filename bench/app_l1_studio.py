#!/usr/bin/env python3
"""Benchmark app "studio", floor side: ``app_library_studio.py``'s template hand-written with L1 classes.

On top of ``app_l1.py``'s images: per image a ``CfnAppImageConfig``; one Studio function per stack
(log group, role, policy, function, the library's staged code); one ``CustomResource`` per attachment
to an existing target, chained per target with DependsOn; and the app's own ``CfnDomain`` and
``CfnUserProfile`` written with every ``CustomImages`` entry in their properties, as someone without
the library would list them.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from app_l1 import _arn, add_function, add_images
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

RESOURCE_TYPE = "Custom::SageMakerStudioCustomImage"
DESCRIPTION = f"{RESOURCE_TYPE}: lists custom images in Studio domains, user profiles and spaces"
ACTIONS = [
    "sagemaker:DescribeDomain",
    "sagemaker:UpdateDomain",
    "sagemaker:DescribeUserProfile",
    "sagemaker:UpdateUserProfile",
    "sagemaker:DescribeSpace",
    "sagemaker:UpdateSpace",
]


def _image(cfn: Any, entry: dict[str, Any]) -> Any:
    """A CustomImages entry as the L1's struct (CfnDomain's or CfnUserProfile's)."""
    return cfn.CustomImageProperty(
        image_name=entry["ImageName"],
        app_image_config_name=entry["AppImageConfigName"],
        image_version_number=entry.get("ImageVersionNumber"),
    )


def app_image_config(stack: cdk.Stack, spec: ConfigSpec) -> sagemaker.CfnAppImageConfig:
    cfn = sagemaker.CfnAppImageConfig
    if spec.app_type == "KernelGateway":
        return cfn(
            stack,
            spec.id,
            app_image_config_name=spec.name,
            kernel_gateway_image_config=cfn.KernelGatewayImageConfigProperty(
                kernel_specs=[
                    cfn.KernelSpecProperty(name=spec.kernel_name, display_name=spec.kernel_display_name)
                ],
                file_system_config=cfn.FileSystemConfigProperty(
                    mount_path=spec.mount_path, default_uid=spec.uid_gid[0], default_gid=spec.uid_gid[1]
                ),
            ),
        )
    return cfn(
        stack,
        spec.id,
        app_image_config_name=spec.name,
        jupyter_lab_app_image_config=cfn.JupyterLabAppImageConfigProperty(
            container_config=cfn.ContainerConfigProperty(
                container_arguments=spec.arguments,
                container_environment_variables=[
                    cfn.CustomImageContainerEnvironmentVariableProperty(key=k, value=v)
                    for k, v in spec.environment.items()
                ],
            )
        ),
    )


def build(app: cdk.App) -> cdk.Stack:
    """One stack with the same resources, properties and DependsOn chains as the library app."""
    stack = cdk.Stack(app, STUDIO_STACK_ID, env=cdk.Environment(account=ACCOUNT, region=REGION))
    added = add_images(stack)
    specs = studio()

    # The entries, and what each waits for, grouped by target: the app's own domain and profile get
    # theirs as properties; the others get one custom resource each.
    domain_images: dict[str, list[Any]] = {"KernelGateway": [dict(TEAM_DOMAIN_OWN_IMAGE)], "JupyterLab": []}
    profile_images: dict[str, list[Any]] = {"KernelGateway": [], "JupyterLab": [dict(TEAM_PROFILE_OWN_IMAGE)]}
    domain_waits: list[cdk.CfnResource] = []
    profile_waits: list[cdk.CfnResource] = []
    # (construct id, properties without DomainId for the app's domain, what it waits for), in order.
    existing: list[tuple[str, dict[str, Any], bool, list[cdk.CfnResource]]] = []
    for spec in specs:
        image, versions = added[spec.image_id]
        config = app_image_config(stack, spec.config)
        image_name = image.image_name
        assert image_name is not None
        for attachment in spec.attachments:
            entry: dict[str, Any] = {"ImageName": image_name, "AppImageConfigName": config.ref}
            waits: list[cdk.CfnResource] = [image]
            if attachment.version == "latest":
                version, aliases = versions[-1]
                entry["ImageVersionNumber"] = version.attr_version
                waits += [version, aliases]
            elif attachment.version is not None:
                entry["ImageVersionNumber"] = attachment.version
            if attachment.target == "team-profile":
                profile_images[spec.config.app_type].append(entry)
                profile_waits += waits
            elif attachment.target == "team" and attachment.user_profile is None:
                domain_images[spec.config.app_type].append(entry)
                domain_waits += waits
            else:
                properties = {"AppType": spec.config.app_type, **entry}
                on_team = attachment.target == "team"
                if attachment.user_profile is not None:
                    properties["UserProfileName"] = attachment.user_profile
                elif attachment.space is not None:
                    properties["SpaceName"] = attachment.space
                else:
                    settings = (
                        "DefaultSpaceSettings" if attachment.default_space_settings else "DefaultUserSettings"
                    )
                    properties["Settings"] = settings
                existing.append((f"{spec.image_id}{attachment.id}", properties, on_team, waits))

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
                custom_images=[_image(sagemaker.CfnDomain, e) for e in domain_images["KernelGateway"]]
            ),
            jupyter_lab_app_settings=sagemaker.CfnDomain.JupyterLabAppSettingsProperty(
                custom_images=[_image(sagemaker.CfnDomain, e) for e in domain_images["JupyterLab"]]
            ),
        ),
    )
    domain.node.add_dependency(*domain_waits)
    profile = sagemaker.CfnUserProfile(
        stack,
        "TeamProfile",
        domain_id=domain.attr_domain_id,
        user_profile_name=TEAM_PROFILE_NAME,
        user_settings=sagemaker.CfnUserProfile.UserSettingsProperty(
            kernel_gateway_app_settings=sagemaker.CfnUserProfile.KernelGatewayAppSettingsProperty(
                custom_images=[_image(sagemaker.CfnUserProfile, e) for e in profile_images["KernelGateway"]]
            ),
            jupyter_lab_app_settings=sagemaker.CfnUserProfile.JupyterLabAppSettingsProperty(
                custom_images=[_image(sagemaker.CfnUserProfile, e) for e in profile_images["JupyterLab"]]
            ),
        ),
    )
    profile.node.add_dependency(*profile_waits)

    # The Studio function may describe and update exactly the targets of the custom resources.
    team_domain_id = domain.attr_domain_id
    targets: dict[tuple[bool, str], None] = {}
    for _, properties, on_team, _ in existing:
        if "UserProfileName" in properties:
            targets[on_team, f"user-profile/{{domain}}/{properties['UserProfileName']}"] = None
        elif "SpaceName" in properties:
            targets[on_team, f"space/{{domain}}/{properties['SpaceName']}"] = None
        else:
            targets[on_team, "domain/{domain}"] = None
    arns = [
        _arn("sagemaker", ACCOUNT, resource.format(domain=team_domain_id if on_team else EXISTING_DOMAIN_ID))
        for on_team, resource in targets
    ]
    function, function_policy = add_function(
        stack,
        "Studio",
        handler="studio_custom_images",
        description=DESCRIPTION,
        timeout=600,
        actions=ACTIONS,
        arns=arns,
    )

    # One read-modify-write at a time per target: each waits for the previous one on its target
    # (a domain's user and space settings are one target).
    last: dict[tuple[bool, str | None, str | None], cdk.CfnResource] = {}
    for construct_id, properties, on_team, waits in existing:
        domain_id = team_domain_id if on_team else EXISTING_DOMAIN_ID
        resource = cdk.CustomResource(
            stack,
            construct_id,
            service_token=function.attr_arn,
            resource_type=RESOURCE_TYPE,
            service_timeout=cdk.Duration.minutes(15),
            properties={"DomainId": domain_id, **properties},
        )
        custom = resource.node.default_child
        assert isinstance(custom, cdk.CfnResource)
        custom.node.add_dependency(function_policy, *waits)
        target = (on_team, properties.get("UserProfileName"), properties.get("SpaceName"))
        if target in last:
            custom.node.add_dependency(last[target])
        last[target] = custom
    return stack


if __name__ == "__main__":
    application = cdk.App()
    build(application)
    application.synth()
