#!/usr/bin/env python3
"""Benchmark app "studio", floor side: ``app_library_studio.py``'s template hand-written with L1 classes.

On top of ``app_l1.py``'s images (and their base image check, which ``add_images`` writes): per image
a ``CfnAppImageConfig``; one Studio function per stack
(log group, role, policy, function, the library's staged code), whose policy also reads each target's
ledger path in SSM and writes the records below it; one ``CustomResource`` per existing target holding
every entry listed there, in order (no chain: one read-modify-write per target), with ``LedgerVersion``;
the reconcile schedule (a ``CfnRule`` every 10 minutes invoking the function with the targets' ids, and
its ``CfnPermission``), after the targets' resources; and the app's own ``CfnDomain`` and
``CfnUserProfile`` written with every ``CustomImages`` entry in their properties, as someone without
the library would list them.
"""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
from app_l1 import _arn, add_function, add_images
from aws_cdk import aws_events as events
from aws_cdk import aws_lambda as lambda_
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

RESOURCE_TYPE = "Custom::SageMakerStudioCustomImages"
# The handler's budget (600 s) and safety margin (30 s): the function outlives both.
FUNCTION_TIMEOUT = 630
DESCRIPTION = f"{RESOURCE_TYPE}: lists custom images in Studio domains, user profiles and spaces"
ACTIONS = [
    "sagemaker:DescribeDomain",
    "sagemaker:UpdateDomain",
    "sagemaker:DescribeUserProfile",
    "sagemaker:UpdateUserProfile",
    "sagemaker:DescribeSpace",
    "sagemaker:UpdateSpace",
]
# The ledger: per target, the SSM path named by its id, which the function reads, and the records
# below it, which it writes. LedgerVersion is the record format.
LEDGER_PREFIX = "sagemaker-image-constructs/studio"
LEDGER_VERSION = "1"
SSM_READ_ACTIONS = ["ssm:GetParametersByPath"]
SSM_WRITE_ACTIONS = ["ssm:PutParameter", "ssm:DeleteParameters"]
# The reconcile schedule: the event the function recognizes, every 10 minutes (the default).
RECONCILE_MINUTES = 10
RECONCILE_EVENT = {"SageMakerImageConstructs": "reconcile"}


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
    # The entries on existing targets, by target (on the app's domain?, profile, space), in order, and
    # what each target's resource waits for.
    existing: dict[
        tuple[bool, str | None, str | None], tuple[list[dict[str, Any]], list[cdk.CfnResource]]
    ] = {}
    for spec in specs:
        image, versions = added[spec.image_id]
        config = app_image_config(stack, spec.config)
        image_name = image.image_name
        assert image_name is not None
        for attachment in spec.attachments:
            entry: dict[str, Any] = {"ImageName": image_name, "AppImageConfigName": config.ref}
            # The version it lists: the pinned one, else the image's last (and its aliases resource).
            version, aliases = versions[-1]
            waits: list[cdk.CfnResource] = [image, version, aliases]
            if attachment.version == "latest":
                entry["ImageVersionNumber"] = version.attr_version
            elif attachment.version is not None:
                entry["ImageVersionNumber"] = attachment.version
            if attachment.target == "team-profile":
                profile_images[spec.config.app_type].append(entry)
                profile_waits += waits
            elif attachment.target == "team" and attachment.user_profile is None:
                domain_images[spec.config.app_type].append(entry)
                domain_waits += waits
            else:
                if attachment.user_profile is not None:
                    settings = "UserSettings"
                elif attachment.space is not None:
                    settings = "SpaceSettings"
                elif attachment.default_space_settings:
                    settings = "DefaultSpaceSettings"
                else:
                    settings = "DefaultUserSettings"
                target = (attachment.target == "team", attachment.user_profile, attachment.space)
                entries, target_waits = existing.setdefault(target, ([], []))
                entries.append({"Settings": settings, "AppType": spec.config.app_type, **entry})
                target_waits += [config, *(w for w in waits if w not in target_waits)]

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

    # The Studio function may describe and update exactly the targets of the custom resources, read
    # each target's ledger path and write the records below it. A target's id (``<domain>/domain``,
    # ``<domain>/user-profile/<name>``, ``<domain>/space/<name>``) names its path.
    team_domain_id = domain.attr_domain_id
    arns, paths, records, physical_ids = [], [], [], []
    for on_team, user_profile, space in existing:
        domain_id = team_domain_id if on_team else EXISTING_DOMAIN_ID
        if user_profile is not None:
            kind, name = "user-profile", user_profile
        elif space is not None:
            kind, name = "space", space
        else:
            kind, name = "domain", None
        arns.append(_arn("sagemaker", ACCOUNT, f"{kind}/{domain_id}" + (f"/{name}" if name else "")))
        physical_id = f"{domain_id}/{kind}" + (f"/{name}" if name else "")
        physical_ids.append(physical_id)
        paths.append(_arn("ssm", ACCOUNT, f"parameter/{LEDGER_PREFIX}/{physical_id}"))
        records.append(_arn("ssm", ACCOUNT, f"parameter/{LEDGER_PREFIX}/{physical_id}/*"))
    function, function_policy = add_function(
        stack,
        "Studio",
        handler="studio_custom_images",
        description=DESCRIPTION,
        timeout=FUNCTION_TIMEOUT,
        actions=ACTIONS,
        arns=arns,
        statements=[
            {"Action": SSM_READ_ACTIONS, "Resource": paths},
            {"Action": SSM_WRITE_ACTIONS, "Resource": records},
        ],
    )

    # One resource per existing target, holding its entries in order: one read-modify-write each.
    resources: list[cdk.CfnResource] = []
    for (on_team, user_profile, space), (entries, waits) in existing.items():
        properties: dict[str, Any] = {"DomainId": team_domain_id if on_team else EXISTING_DOMAIN_ID}
        if user_profile is not None:
            properties["UserProfileName"] = user_profile
        elif space is not None:
            properties["SpaceName"] = space
        properties["CustomImages"] = entries
        properties["LedgerVersion"] = LEDGER_VERSION
        name = "Team" if on_team else "Existing"
        resource = cdk.CustomResource(
            stack,
            f"StudioCustomImages{name}{user_profile or space or 'Domain'}",
            service_token=function.attr_arn,
            resource_type=RESOURCE_TYPE,
            service_timeout=cdk.Duration.minutes(15),
            properties=properties,
        )
        custom = resource.node.default_child
        assert isinstance(custom, cdk.CfnResource)
        custom.node.add_dependency(function_policy, *waits)
        resources.append(custom)

    # The reconcile schedule: the function re-applies the targets' entries every 10 minutes; the rule
    # and its permission come after the targets' resources (and go before them).
    event = {**RECONCILE_EVENT, "StackId": cdk.Aws.STACK_ID, "Targets": physical_ids}
    rule = events.CfnRule(
        stack,
        "StudioReconcile",
        description=f"Re-applies this stack's Studio custom images every {RECONCILE_MINUTES} minutes",
        schedule_expression=f"rate({RECONCILE_MINUTES} minutes)",
        state="ENABLED",
        targets=[
            events.CfnRule.TargetProperty(
                arn=function.attr_arn,
                id="Target0",
                input=json.dumps(event, separators=(",", ":")),
                retry_policy=events.CfnRule.RetryPolicyProperty(maximum_retry_attempts=2),
            )
        ],
    )
    permission = lambda_.CfnPermission(
        stack,
        "StudioReconcilePermission",
        action="lambda:InvokeFunction",
        function_name=function.attr_arn,
        principal="events.amazonaws.com",
        source_arn=rule.attr_arn,
    )
    rule.node.add_dependency(*resources)
    permission.node.add_dependency(*resources)
    return stack


if __name__ == "__main__":
    application = cdk.App()
    build(application)
    application.synth()
