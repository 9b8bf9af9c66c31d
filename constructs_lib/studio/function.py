"""The stack's one Studio function (``lambda/studio_custom_images``)."""

from __future__ import annotations

from ..provider import FunctionProvider
from .contract import FUNCTION_TIMEOUT, PROVIDER_ID, SAGEMAKER_ACTIONS


class StudioProvider(FunctionProvider):
    """The stack's one Studio function; its role grows by one ARN per target."""

    PROVIDER_ID = PROVIDER_ID
    HANDLER = "studio_custom_images"
    DESCRIPTION = (
        "Custom::SageMakerStudioCustomImages: lists custom images in Studio domains, user profiles and spaces"
    )
    ACTIONS = SAGEMAKER_ACTIONS
    # arn:aws-us-gov:sagemaker:us-isof-south-1:<12 digits>:user-profile/<domain id, 63>/<63>
    ARN_SIZE_ESTIMATE = 194
    TIMEOUT = FUNCTION_TIMEOUT
