"""AWS CDK constructs for SageMaker custom images: ``Image``, ``ImageVersion``, their base images, and
``AppImageConfig`` with ``StudioAttachment`` to bring them to Studio users."""

from ._version import __version__
from .app_image_config import (
    AppImageConfig,
    ContainerConfig,
    FileSystemConfig,
    KernelGatewayConfig,
    KernelSpec,
)
from .base_image import BaseImage, BaseImageConfig
from .enums import AppType, JobType, Processor, ReconcileDefault, VendorGuidance
from .image import Image, ImageBase
from .image_version import ImageVersion, ImageVersionOptions
from .interfaces import IAppImageConfig, IImage, IImageVersion
from .studio import StudioAttachment
from .validation import ValidationError

__all__ = [
    "AppImageConfig",
    "AppType",
    "BaseImage",
    "BaseImageConfig",
    "ContainerConfig",
    "FileSystemConfig",
    "IAppImageConfig",
    "IImage",
    "IImageVersion",
    "Image",
    "ImageBase",
    "ImageVersion",
    "ImageVersionOptions",
    "JobType",
    "KernelGatewayConfig",
    "KernelSpec",
    "Processor",
    "ReconcileDefault",
    "StudioAttachment",
    "ValidationError",
    "VendorGuidance",
    "__version__",
]
