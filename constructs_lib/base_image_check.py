"""A deploy-time check of each version's base image, before the version exists: that its tag or digest
exists and that it is ``linux/amd64``, the platform Studio runs (``lambda/base_image_check``).

An image built on an Apple-silicon laptop without ``--platform linux/amd64`` is listed, then fails at
app start with an opaque ``InternalFailure``; a tag never pushed fails later, at ``CreateImageVersion``.
One ``Custom::SageMakerBaseImageCheck`` per stack lists the stack's base images (one resource, so the
500-resource budget barely moves), and every checked ``CfnImageVersion`` depends on it: a failed check
means no SageMaker call at all. ``docs/base-image-check.md`` is the contract.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any, ClassVar, cast
from weakref import WeakKeyDictionary

import jsii
from aws_cdk import CfnResource, CustomResource, Duration, IStableAnyProducer, Lazy, Stack
from aws_cdk import aws_ecr as ecr

from .provider import _FunctionProvider
from .tokens import identity

RESOURCE_TYPE = "Custom::SageMakerBaseImageCheck"
# The library's own id for the check's function per stack (construct ids are API: never change it).
PROVIDER_ID = "SageMakerBaseImageCheck7c1d2e9a4b5f4c0e8a3d6b1f2e9c7a50"
CHECK_ID = "SageMakerBaseImageCheck"  # the stack's check resources (then 2, 3...), beside the function
# CloudFormation takes a custom resource's answer up to 4,096 bytes: 30 digests (Digest<16 hex> and
# sha256:<64 hex> each) leave room; a stack with more base images gets another resource per 30.
IMAGES_PER_RESOURCE = 30
# Exactly what lambda/base_image_check/index.py calls (a contract test holds the two together).
ECR_ACTIONS = ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")
# The handler's budget and margin (a test holds these to the handler's), and CloudFormation's limit.
HANDLER_MAX_SECONDS = 240
HANDLER_SAFETY_MARGIN_SECONDS = 30
FUNCTION_TIMEOUT = Duration.seconds(HANDLER_MAX_SECONDS + HANDLER_SAFETY_MARGIN_SECONDS)
SERVICE_TIMEOUT = Duration.minutes(5)


class _BaseImageCheckProvider(_FunctionProvider):
    """The stack's check function; its role may read exactly the repositories the versions use."""

    PROVIDER_ID: ClassVar[str] = PROVIDER_ID
    HANDLER: ClassVar[str] = "base_image_check"
    DESCRIPTION: ClassVar[str] = (
        "Custom::SageMakerBaseImageCheck: checks that base images exist and are linux/amd64"
    )
    ACTIONS: ClassVar[Sequence[str]] = ECR_ACTIONS
    # arn:aws-us-gov:ecr:us-isof-south-1:<12 digits>:repository/<256-character name>
    ARN_SIZE_ESTIMATE: ClassVar[int] = 314
    TIMEOUT: ClassVar[Duration] = FUNCTION_TIMEOUT


@jsii.implements(IStableAnyProducer)
class _Images:
    def __init__(self, images: list[dict[str, str]]) -> None:
        self._images = images

    def produce(self) -> Any:
        return self._images


class _BaseImageCheck:
    """A stack's check resources, each listing up to ``IMAGES_PER_RESOURCE`` distinct base images."""

    @classmethod
    def of(cls, stack: Stack) -> _BaseImageCheck:
        found = _CHECKS.get(stack)
        if found is None:
            found = _CHECKS[stack] = cls(stack)
        return found

    def __init__(self, stack: Stack) -> None:
        self._stack = stack
        self._lists: list[list[dict[str, str]]] = []
        self._resources: list[tuple[CustomResource, CfnResource]] = []  # each with its L1
        self._listed: dict[str, tuple[CustomResource, CfnResource, str]] = {}  # by key
        # Repositories granted: by object (most versions share the import their stack keeps for a
        # repository), then by what their ARN resolves to. Each ARN read is a round trip.
        self._repository_objects: set[int] = set()
        self._repositories: set[str] = set()
        self.provider = _BaseImageCheckProvider.of(stack)

    def add(self, image_uri: str, repository: ecr.IRepository) -> tuple[CustomResource, CfnResource, str]:
        """Check ``image_uri`` before a version on it is created: the resource to wait for (and its L1),
        and the key of the digest it answers (``Digest<key>``), shared by the versions of one URI."""
        # A URI is keyed by what it is: versions on one base image share its entry (one check, one
        # digest). A token's text changes between synths, so identity() keys a token URI by the
        # CloudFormation expression it resolves to (one round trip per token and stack), which does not.
        key = hashlib.sha256(identity(self._stack, image_uri).encode()).hexdigest()[:16]
        listed = self._listed.get(key)
        if listed is not None:
            return listed
        if not self._lists or len(self._lists[-1]) >= IMAGES_PER_RESOURCE:
            self._new_resource()
        self._lists[-1].append({"Key": key, "ImageUri": image_uri})
        if id(repository) not in self._repository_objects:
            self._repository_objects.add(id(repository))
            arn = repository.repository_arn
            granted = identity(self._stack, arn)
            if granted not in self._repositories:
                self._repositories.add(granted)
                self.provider.allow(arn)
        resource, cfn = self._resources[-1]
        listed = self._listed[key] = (resource, cfn, key)
        return listed

    def _new_resource(self) -> None:
        n = len(self._resources)
        images: list[dict[str, str]] = []
        resource = CustomResource(
            self._stack,
            CHECK_ID if n == 0 else f"{CHECK_ID}{n + 1}",
            service_token=self.provider.function_arn,
            resource_type=RESOURCE_TYPE,
            service_timeout=SERVICE_TIMEOUT,
            properties={"Images": Lazy.any(_Images(images))},
        )
        resource.node.add_dependency(self.provider.role)
        self._lists.append(images)
        self._resources.append((resource, cast(CfnResource, resource.node.default_child)))


# Each stack's check, found without a tree lookup (two round trips) per version.
_CHECKS: WeakKeyDictionary[Stack, _BaseImageCheck] = WeakKeyDictionary()
