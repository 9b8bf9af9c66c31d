"""Where an image version's container comes from, and which ECR repository its role must pull from."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any
from weakref import WeakKeyDictionary

from aws_cdk import Aws, CfnMapping, Stack
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_ecr_assets as ecr_assets
from constructs import Construct

from . import validation
from .dlc_registries import DNS_SUFFIXES, REGISTRY_ACCOUNTS, UNCHECKED_SUFFIX_PREFIXES
from .tokens import is_unresolved

# <account>.dkr.ecr[-fips].<region>.<suffix>/<repository>[:tag|@digest]
_ECR_URI = re.compile(
    r"(?P<account>\d{12})\.dkr\.ecr(?:-fips)?\.(?P<region>[a-z0-9-]+)\.[a-z0-9.-]+/"
    r"(?P<repository>[a-z0-9._/-]+?)(?::[\w.-]+)?(?:@sha256:[a-f0-9]{64})?",
    re.ASCII,
)
# A registry host at the start of a repository name: "<account>.dkr.ecr[-fips].<region>.<suffix>/",
# "public.ecr.aws/", or any host with a port or a known registry domain.
_REGISTRY_HOST = re.compile(
    r"[^/]*(?:\.dkr\.ecr(?:-fips)?\.|\.amazonaws\.com|\.ecr\.aws|docker\.io|:)[^/]*/", re.ASCII
)
_DLC_MAPPING_ID = "SageMakerDeepLearningContainerRegistries"


@dataclass
class _StackFacts:
    """What binding needs of a stack, read once per stack: each read is a jsii round trip."""

    region: str
    partition: str
    dlc_account: str | None = None  # a Fn::FindInMap token, for a region-agnostic stack
    repositories: dict[str, ecr.IRepository] = field(default_factory=dict)  # imports, by ARN


_FACTS: WeakKeyDictionary[Stack, _StackFacts] = WeakKeyDictionary()


def _facts(stack: Stack) -> _StackFacts:
    facts = _FACTS.get(stack)
    if facts is None:
        facts = _FACTS[stack] = _StackFacts(region=stack.region, partition=stack.partition)
    return facts


def _imported_repository(
    scope: Construct, facts: _StackFacts, region: str, account: str, name: str
) -> ecr.IRepository:
    """One import per repository and stack, made under the first version that uses it."""
    arn = f"arn:{facts.partition}:ecr:{region}:{account}:repository/{name}"
    repository = facts.repositories.get(arn)
    if repository is None:
        repository = facts.repositories[arn] = ecr.Repository.from_repository_attributes(
            scope, "BaseImageRepository", repository_arn=arn, repository_name=name
        )
    return repository


@dataclass(frozen=True)
class BaseImageConfig:
    """What a bound base image gives its version: the registry path and the repository to pull from."""

    image_uri: str
    # None where the repository cannot be known at synth time (a token URI, a non-ECR registry).
    repository: ecr.IRepository | None = None


class BaseImage(ABC):
    """The container image an ImageVersion is based on (``BaseImage``)."""

    @staticmethod
    def from_uri(uri: str) -> BaseImage:
        """Any registry path, literal or token. A literal ECR URI also grants pull on its repository."""
        validation.check_required("BaseImage.from_uri", "uri", uri, "a registry path")
        return _UriBaseImage(uri)

    @staticmethod
    def from_ecr_repository(repository: ecr.IRepository, tag: str = "latest") -> BaseImage:
        """An image in an ECR repository of this app; ``tag`` may also be a digest (``sha256:...``)."""
        owner = "BaseImage.from_ecr_repository"
        validation.check_required(owner, "repository", repository, "an ecr.IRepository")
        validation.check_required(owner, "tag", tag, "a tag or digest")
        return _EcrBaseImage(repository, tag)

    @staticmethod
    def from_deep_learning_container(repository_name: str, tag: str) -> BaseImage:
        """An AWS Deep Learning Container, from the registry of the stack's region.

        A region-agnostic stack picks the registry account through a CloudFormation mapping.
        """
        owner = "BaseImage.from_deep_learning_container"
        validation.check_required(owner, "repository_name", repository_name, "a DLC repository's name")
        validation.check_required(owner, "tag", tag, "a tag")
        return _DeepLearningContainerBaseImage(repository_name, tag)

    @staticmethod
    def from_asset(directory: str, **options: Any) -> BaseImage:
        """A local Dockerfile, built and published by ``cdk deploy`` as a CDK image asset.

        ``options`` are those of ``aws_ecr_assets.DockerImageAsset`` (``build_args``, ``platform``...).
        It is built for ``linux/amd64`` unless ``platform`` says otherwise: Studio runs amd64 images, and
        one built on an Apple-silicon laptop for its own arm64 fails only at app start, with an opaque
        ``InternalFailure`` (``exec format error`` in the log). Synthesis only fingerprints the
        directory; it needs no Docker engine.
        """
        validation.check_required("BaseImage.from_asset", "directory", directory, "a Dockerfile's folder")
        return _AssetBaseImage(directory, options)

    @abstractmethod
    def bind(self, scope: Construct) -> BaseImageConfig:
        """Create what the image needs under ``scope`` (the version) and say where it lives."""

    def _bind_in(self, scope: Construct, stack: Stack | None) -> BaseImageConfig:
        """``bind``, for a version that knows its stack: the library's own kinds take it from there
        instead of asking for it (``Stack.of`` is a jsii round trip, once per version)."""
        return self.bind(scope)


class _UriBaseImage(BaseImage):
    def __init__(self, uri: str) -> None:
        self._uri = uri

    def bind(self, scope: Construct) -> BaseImageConfig:
        return self._bind_in(scope, None)

    def _bind_in(self, scope: Construct, stack: Stack | None) -> BaseImageConfig:
        if is_unresolved(self._uri):
            return BaseImageConfig(self._uri)
        match = _ECR_URI.fullmatch(self._uri)
        if match is None:
            return BaseImageConfig(self._uri)
        facts = _facts(Stack.of(scope) if stack is None else stack)
        repository = _imported_repository(
            scope, facts, match["region"], match["account"], match["repository"]
        )
        return BaseImageConfig(self._uri, repository)


class _EcrBaseImage(BaseImage):
    def __init__(self, repository: ecr.IRepository, tag: str) -> None:
        if not tag.startswith("sha256:"):
            validation.check("BaseImage.from_ecr_repository", "tag", tag, validation.ECR_TAG)
        self._repository = repository
        self._tag = tag

    def bind(self, scope: Construct) -> BaseImageConfig:
        uri = self._repository.repository_uri_for_tag_or_digest(self._tag)
        return BaseImageConfig(uri, self._repository)


class _DeepLearningContainerBaseImage(BaseImage):
    def __init__(self, repository_name: str, tag: str) -> None:
        owner = "BaseImage.from_deep_learning_container"
        if not is_unresolved(repository_name) and _REGISTRY_HOST.match(repository_name):
            raise validation.ValidationError(
                f"{owner}: invalid repository_name {repository_name!r}: expected the repository name "
                "alone (such as 'pytorch-training'); the registry comes from the stack's region. For a "
                "full URI, use BaseImage.from_uri"
            )
        validation.check(owner, "repository_name", repository_name, validation.ECR_REPOSITORY_NAME)
        validation.check(owner, "tag", tag, validation.ECR_TAG)
        self._repository_name = repository_name
        self._tag = tag

    def bind(self, scope: Construct) -> BaseImageConfig:
        return self._bind_in(scope, None)

    def _bind_in(self, scope: Construct, stack: Stack | None) -> BaseImageConfig:
        if stack is None:
            stack = Stack.of(scope)
        facts = _facts(stack)
        region = facts.region
        if is_unresolved(region):
            if facts.dlc_account is None:
                facts.dlc_account = _dlc_mapping(stack).find_in_map(Aws.REGION, "account")
            account = facts.dlc_account
            suffix = Aws.URL_SUFFIX
        else:
            if region not in REGISTRY_ACCOUNTS:
                raise validation.ValidationError(
                    f"BaseImage.from_deep_learning_container: no Deep Learning Container registry is "
                    f"known for the stack's region {region!r}; known regions: "
                    f"{', '.join(sorted(REGISTRY_ACCOUNTS))}. Use BaseImage.from_uri with the full URI."
                )
            account = REGISTRY_ACCOUNTS[region]
            suffix = (
                Aws.URL_SUFFIX
                if region.startswith(UNCHECKED_SUFFIX_PREFIXES)
                else DNS_SUFFIXES.get(region, "amazonaws.com")
            )
        name = self._repository_name
        repository = _imported_repository(scope, facts, region, account, name)
        return BaseImageConfig(f"{account}.dkr.ecr.{region}.{suffix}/{name}:{self._tag}", repository)


def _dlc_mapping(stack: Stack) -> CfnMapping:
    """The stack's mapping from region to registry account, for stacks whose region is a token."""
    return CfnMapping(
        stack,
        _DLC_MAPPING_ID,
        mapping={region: {"account": account} for region, account in REGISTRY_ACCOUNTS.items()},
    )


class _AssetBaseImage(BaseImage):
    def __init__(self, directory: str, options: dict[str, Any]) -> None:
        self._directory = directory
        self._options = options

    def bind(self, scope: Construct) -> BaseImageConfig:
        options = {"platform": ecr_assets.Platform.LINUX_AMD64, **self._options}
        asset = ecr_assets.DockerImageAsset(scope, "BaseImageAsset", directory=self._directory, **options)
        return BaseImageConfig(asset.image_uri, asset.repository)
