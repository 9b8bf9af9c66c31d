"""AWS CDK constructs for SageMaker custom images: ``Image``, ``ImageVersion`` and their base images."""

from ._version import __version__
from .base_image import BaseImage, BaseImageConfig
from .enums import JobType, Processor, VendorGuidance
from .image import IImage, Image, ImageBase
from .image_version import IImageVersion, ImageVersion, ImageVersionOptions
from .validation import ValidationError

__all__ = [
    "BaseImage",
    "BaseImageConfig",
    "IImage",
    "IImageVersion",
    "Image",
    "ImageBase",
    "ImageVersion",
    "ImageVersionOptions",
    "JobType",
    "Processor",
    "ValidationError",
    "VendorGuidance",
    "__version__",
]
