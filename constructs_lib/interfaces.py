"""The library's interfaces, apart from their implementations: ``studio`` uses them without importing
``image``, ``image_version`` or ``app_image_config``, so no two of those modules need each other."""

from __future__ import annotations

from typing import Protocol

from aws_cdk import aws_iam as iam
from constructs import IConstruct

from .enums import AppType


class IImage(IConstruct, Protocol):
    """A SageMaker image, defined in this app or imported."""

    @property
    def image_name(self) -> str:
        """The image's name (``ImageName``)."""
        ...

    @property
    def image_arn(self) -> str:
        """The image's ARN."""
        ...

    def grant_read(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` describe the image and its versions, as a Studio execution role must."""
        ...


class IImageVersion(IConstruct, Protocol):
    """A SageMaker image version, defined in this app or imported."""

    @property
    def image_version_arn(self) -> str:
        """The version's ARN (``.../image-version/<image>/<version>``)."""
        ...

    @property
    def version(self) -> int | float:
        """The version number SageMaker assigned (1, 2, ...)."""
        ...

    @property
    def image_arn(self) -> str:
        """The ARN of the image this is a version of."""
        ...

    @property
    def image(self) -> IImage:
        """The image this is a version of."""
        ...


class IAppImageConfig(IConstruct, Protocol):
    """A Studio app image config, defined in this app or imported."""

    @property
    def app_image_config_name(self) -> str:
        """The config's name (``AppImageConfigName``)."""
        ...

    @property
    def app_image_config_arn(self) -> str:
        """The config's ARN (``.../app-image-config/<name>``)."""
        ...

    @property
    def app_type(self) -> AppType:
        """The Studio app the config runs its image as."""
        ...

    def grant_read(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` describe the config, as a Studio execution role running it may need."""
        ...
