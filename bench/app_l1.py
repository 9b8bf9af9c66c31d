#!/usr/bin/env python3
"""Benchmark app, floor side: the library app's template hand-written with CloudFormation L1 classes.

The same resources as ``app_library.py`` (per image: a role, its pull and ECR-login policies, the
image, its chained versions, one custom resource per version; per stack: the aliases function and the
base image check's, each with its role, policy and log group, and one check resource per 30 base images,
which the versions wait for), written the way someone without the library would: no validation, no L2
constructs, no token resolution at synth time. Whatever the library costs beyond this is its overhead.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_sagemaker as sagemaker
from workload import ACCOUNT, DLC_ACCOUNT, REGION, STACK_ID, images

from constructs_lib.provider import function_code_directory

RESOURCE_TYPE = "Custom::SageMakerImageVersionAliases"
CHECK_TYPE = "Custom::SageMakerBaseImageCheck"
CHECK_IMAGES_PER_RESOURCE = 30  # the library's: 30 digests fit CloudFormation's 4,096-byte answer


def _trust(service: str) -> dict[str, Any]:
    statement = {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": service}}
    return {"Version": "2012-10-17", "Statement": [statement]}


def _document(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", **s} for s in statements]}


def _check_key(uri: str) -> str:
    """The library's key of a literal base image URI in its check resources: 16 hex digits."""
    return hashlib.sha256(json.dumps(uri).encode()).hexdigest()[:16]


def _base_image(repository: str, tag: str) -> str:
    return f"{DLC_ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{repository}:{tag}"


def _arn(service: str, account: str, resource: str) -> str:
    return f"arn:{cdk.Aws.PARTITION}:{service}:{REGION}:{account}:{resource}"


def add_function(
    stack: cdk.Stack,
    prefix: str,
    *,
    handler: str,
    description: str,
    timeout: int,
    actions: list[str],
    arns: list[str],
    statements: list[dict[str, Any]] | None = None,
) -> tuple[lambda_.CfnFunction, iam.CfnPolicy]:
    """One crhelper function with its log group, role and policy, shipping the library's staged code.

    The policy allows ``actions`` on ``arns``, plus any further ``statements`` (``Action`` and ``Resource``).
    """
    log_group = logs.CfnLogGroup(stack, f"{prefix}LogGroup", retention_in_days=365)
    log_group.apply_removal_policy(cdk.RemovalPolicy.RETAIN)
    function_role = iam.CfnRole(
        stack,
        f"{prefix}Role",
        assume_role_policy_document=_trust("lambda.amazonaws.com"),
        description=description,
    )
    function_policy = iam.CfnPolicy(
        stack,
        f"{prefix}Policy",
        policy_name=f"{prefix}Policy",
        roles=[function_role.ref],
        policy_document=_document(
            {"Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": log_group.attr_arn},
            {"Action": actions, "Resource": arns},
            *(statements or []),
        ),
    )
    code = s3_assets.Asset(stack, f"{prefix}Code", path=function_code_directory(handler))
    function = lambda_.CfnFunction(
        stack,
        f"{prefix}Function",
        code=lambda_.CfnFunction.CodeProperty(s3_bucket=code.s3_bucket_name, s3_key=code.s3_object_key),
        description=description,
        runtime="python3.14",
        architectures=["arm64"],
        handler="index.handler",
        timeout=timeout,
        memory_size=256,
        role=function_role.attr_arn,
        logging_config=lambda_.CfnFunction.LoggingConfigProperty(log_group=log_group.ref),
    )
    function.node.add_dependency(function_policy)
    code.add_resource_metadata(function, "Code")
    return function, function_policy


# Per image: its CfnImage, then per version (oldest first) its CfnImageVersion and aliases resource.
Images = dict[str, tuple[sagemaker.CfnImage, list[tuple[sagemaker.CfnImageVersion, cdk.CfnResource]]]]


def add_images(stack: cdk.Stack) -> Images:
    """The aliases function, then every image with its role, policies, versions and aliases resources."""
    specs = images()

    # The aliases function: one per stack, shipping the same staged code as the library's.
    sagemaker_arns = []
    for spec in specs:
        sagemaker_arns.append(_arn("sagemaker", ACCOUNT, f"image/{spec.image_name}"))
        sagemaker_arns.append(_arn("sagemaker", ACCOUNT, f"image-version/{spec.image_name}/*"))
    function, function_policy = add_function(
        stack,
        "Aliases",
        handler="image_version_aliases",
        description=f"{RESOURCE_TYPE}: moves floating aliases between versions",
        timeout=300,
        actions=["sagemaker:UpdateImageVersion", "sagemaker:DescribeImageVersion", "sagemaker:ListAliases"],
        arns=sagemaker_arns,
    )

    # The base image check: one function per stack that may read exactly the versions' repositories,
    # and one check resource per 30 distinct base images (in declaration order), each version waiting
    # for the one that lists its image.
    check_function, check_policy = add_function(
        stack,
        "BaseImageCheck",
        handler="base_image_check",
        description=f"{CHECK_TYPE}: checks that base images exist and are linux/amd64",
        timeout=270,
        actions=["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
        arns=[
            _arn("ecr", DLC_ACCOUNT, f"repository/{r}")
            for r in sorted({v.repository for spec in specs for v in spec.versions})
        ],
    )
    checks: dict[tuple[str, str], cdk.CfnResource] = {}
    # One entry per distinct URI, in declaration order; the versions of one URI wait for its resource.
    sharing: dict[str, list[tuple[str, str]]] = {}
    for spec in specs:
        for v in spec.versions:
            sharing.setdefault(_base_image(v.repository, v.tag), []).append((spec.id, v.id))
    listed = list(sharing)
    for n in range(0, len(listed), CHECK_IMAGES_PER_RESOURCE):
        chunk = listed[n : n + CHECK_IMAGES_PER_RESOURCE]
        check = cdk.CustomResource(
            stack,
            "BaseImageCheck" if n == 0 else f"BaseImageCheck{n // CHECK_IMAGES_PER_RESOURCE + 1}",
            service_token=check_function.attr_arn,
            resource_type=CHECK_TYPE,
            service_timeout=cdk.Duration.minutes(5),
            properties={"Images": [{"Key": _check_key(uri), "ImageUri": uri} for uri in chunk]},
        )
        custom = check.node.default_child
        assert isinstance(custom, cdk.CfnResource)
        custom.node.add_dependency(check_policy)
        checks.update({version: custom for uri in chunk for version in sharing[uri]})

    added: Images = {}
    for spec in specs:
        role = iam.CfnRole(
            stack,
            f"{spec.id}Role",
            assume_role_policy_document=_trust("sagemaker.amazonaws.com"),
            description="Lets SageMaker pull the base images of this SageMaker image's versions",
        )
        repositories = sorted({v.repository for v in spec.versions})
        pull = iam.CfnPolicy(
            stack,
            f"{spec.id}PullPolicy",
            policy_name=f"{spec.id}PullPolicy",
            roles=[role.ref],
            policy_document=_document(
                {
                    "Action": [
                        "ecr:BatchCheckLayerAvailability",
                        "ecr:GetDownloadUrlForLayer",
                        "ecr:BatchGetImage",
                    ],
                    "Resource": [_arn("ecr", DLC_ACCOUNT, f"repository/{r}") for r in repositories],
                }
            ),
        )
        login = iam.CfnPolicy(
            stack,
            f"{spec.id}EcrAuthorizationPolicy",
            policy_name=f"{spec.id}EcrAuthorizationPolicy",
            roles=[role.ref],
            policy_document=_document({"Action": "ecr:GetAuthorizationToken", "Resource": "*"}),
        )
        image = sagemaker.CfnImage(
            stack,
            spec.id,
            image_name=spec.image_name,
            image_role_arn=role.attr_arn,
            image_display_name=spec.display_name,
        )
        image.node.add_dependency(pull)
        image.node.add_dependency(login)

        previous: list[cdk.CfnResource] = [image]
        versions = []
        for v in spec.versions:
            version = sagemaker.CfnImageVersion(
                stack,
                f"{spec.id}{v.id}",
                image_name=spec.image_name,
                base_image=_base_image(v.repository, v.tag),
                alias=v.alias,
                **v.props,
            )
            for dependency in [*previous, checks[(spec.id, v.id)]]:
                version.node.add_dependency(dependency)
            digest = hashlib.sha256(json.dumps({"alias": v.alias, **v.props}, sort_keys=True).encode())
            aliases = cdk.CustomResource(
                stack,
                f"{spec.id}{v.id}Aliases",
                service_token=function.attr_arn,
                resource_type=RESOURCE_TYPE,
                service_timeout=cdk.Duration.minutes(10),
                properties={
                    "ImageName": spec.image_name,
                    "Version": version.attr_version,
                    "Aliases": v.aliases,
                    "ConfigDigest": digest.hexdigest()[:16],
                },
            )
            custom = aliases.node.default_child
            assert isinstance(custom, cdk.CfnResource)
            custom.node.add_dependency(function_policy)
            # The next version waits for this one's aliases: SageMaker refuses concurrent changes.
            previous = [version, custom]
            versions.append((version, custom))
        added[spec.id] = (image, versions)
    return added


def build(app: cdk.App) -> cdk.Stack:
    """One stack with the same resources, properties and DependsOn chain as the library app."""
    stack = cdk.Stack(app, STACK_ID, env=cdk.Environment(account=ACCOUNT, region=REGION))
    add_images(stack)
    return stack


if __name__ == "__main__":
    application = cdk.App()
    build(application)
    application.synth()
