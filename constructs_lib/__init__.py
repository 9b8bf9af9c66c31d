"""AWS CDK constructs for SageMaker custom images: ``Image``, ``ImageVersion`` and their base images."""

from ._version import __version__
from .app_image_config import (
    AppImageConfig,
    ContainerConfig,
    FileSystemConfig,
    IAppImageConfig,
    KernelGatewayConfig,
    KernelSpec,
)
from .base_image import BaseImage, BaseImageConfig
from .enums import AppType, JobType, Processor, VendorGuidance
from .image import IImage, Image, ImageBase
from .image_version import IImageVersion, ImageVersion, ImageVersionOptions
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
    "ValidationError",
    "VendorGuidance",
    "__version__",
]
