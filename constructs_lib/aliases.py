"""Floating aliases: the custom resource that moves an alias (``latest``) to the version that claims it.

SageMaker lets an alias name only one version of an image, and CloudFormation creates version N+1
before it touches version N, so CloudFormation alone cannot move ``latest``. One crhelper function per
stack (``lambda/image_version_aliases``) does it for every version that asks.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any, ClassVar

from aws_cdk import CustomResource, Duration, Stack
from constructs import Construct

from .provider import _FunctionProvider, nag_resource
from .tokens import identity, is_unresolved

RESOURCE_TYPE = "Custom::SageMakerImageVersionAliases"
# The library's own id for its one function per stack (construct ids are API: never change it).
PROVIDER_ID = "SageMakerImageVersionAliases99a58004dd95439190e8191abe1c2f49"
# Exactly what lambda/image_version_aliases/index.py calls (a contract test holds the two together).
SAGEMAKER_ACTIONS = (
    "sagemaker:UpdateImageVersion",
    "sagemaker:DescribeImageVersion",
    "sagemaker:ListAliases",
)
# The function may wait out "Resource was modified concurrently" for a few minutes; CloudFormation
# gives up on a silent function after SERVICE_TIMEOUT instead of the default hour.
FUNCTION_TIMEOUT = Duration.minutes(5)
SERVICE_TIMEOUT = Duration.minutes(10)
# Stands for the image name in the ARNs formatted once per stack (no image name can hold an "@").
_NAME = "@@image-name@@"


class _AliasesProvider(_FunctionProvider):
    """The stack's one aliases function; its role grows by one image's ARNs per image."""

    PROVIDER_ID: ClassVar[str] = PROVIDER_ID
    HANDLER: ClassVar[str] = "image_version_aliases"
    DESCRIPTION: ClassVar[str] = (
        "Custom::SageMakerImageVersionAliases: moves floating aliases between versions"
    )
    ACTIONS: ClassVar[Sequence[str]] = SAGEMAKER_ACTIONS
    # arn:aws-us-gov:sagemaker:us-isof-south-1:<12 digits>:image-version/<63>/*
    ARN_SIZE_ESTIMATE: ClassVar[int] = 133
    TIMEOUT: ClassVar[Duration] = FUNCTION_TIMEOUT

    def __init__(self, scope: Stack, id: str) -> None:
        super().__init__(scope, id)
        self._images: set[str] = set()
        self._image_keys: dict[str, str] = {}
        # The image's and its versions' ARNs with _NAME for the name, and how cdk-nag prints the latter:
        # formatted and resolved once, since ARNs of two images differ in the name alone (format_arn
        # concatenates its parts, tokens included), where doing it per image costs three round trips.
        self._arns: tuple[str, str, str] | None = None

    def allow_image(self, image_name: str) -> None:
        """Let the function act on this image and on any of its versions, and on nothing else."""
        stack = self._stack
        key = self._image_keys.get(image_name)
        if key is None:  # a literal name and an Image's name token resolve alike
            key = identity(stack, image_name)
            self._image_keys[image_name] = key
        if key in self._images:
            return
        self._images.add(key)
        if self._arns is None:
            versions = stack.format_arn(
                service="sagemaker", resource="image-version", resource_name=f"{_NAME}/*"
            )
            image = stack.format_arn(service="sagemaker", resource="image", resource_name=_NAME)
            self._arns = (image, versions, nag_resource(stack.resolve(versions)))
        image, versions, nag_versions = self._arns
        resolved = json.loads(key)  # the name as the template holds it
        self.allow(
            image.replace(_NAME, image_name),
            versions.replace(_NAME, image_name),
            wildcard_reason="A move takes the alias from whichever version of the image holds it, so the "
            "function needs every version of this one image; SageMaker numbers them at deploy time",
            nag_name=nag_versions.replace(_NAME, resolved) if isinstance(resolved, str) else None,
        )


def add_floating_aliases(
    version: Construct,
    *,
    stack: Stack,
    image_name: str,
    version_number: Any,
    aliases: list[str],
    config: dict[str, Any],
) -> CustomResource:
    """The custom resource that keeps ``aliases`` on ``version`` (construct id ``Aliases``).

    ``ConfigDigest`` changes with the version's mutable properties, so the resource runs again after
    any in-place update of the version and puts back what CloudFormation's own alias handling removed.
    """
    provider = _AliasesProvider.of(stack)
    provider.allow_image(image_name)
    given = {key: value for key, value in config.items() if value is not None}
    # Resolving (a jsii round trip) is needed only to render tokens; it also drops what is not set.
    literal = not any(is_unresolved(value) for value in given.values())
    rendered = json.dumps(given if literal else stack.resolve(given), sort_keys=True)
    digest = hashlib.sha256(rendered.encode()).hexdigest()[:16]
    resource = CustomResource(
        version,
        "Aliases",
        service_token=provider.function_arn,
        resource_type=RESOURCE_TYPE,
        service_timeout=SERVICE_TIMEOUT,
        properties={
            "ImageName": image_name,
            "Version": version_number,
            "Aliases": aliases,
            "ConfigDigest": digest,
        },
    )
    # The function waits for its role and every policy of it (CDK's overflow ones too).
    resource.node.add_dependency(provider.role)
    return resource
