"""The stack's one Studio function (``lambda/studio_custom_images``)."""

from __future__ import annotations

from ..provider import FunctionProvider
from .contract import FUNCTION_TIMEOUT, PROVIDER_ID, SAGEMAKER_ACTIONS


class StudioProvider(FunctionProvider):
    """The stack's one Studio function; its role grows by three ARNs per target (the target, its ledger
    path and the records below it)."""

    PROVIDER_ID = PROVIDER_ID
    HANDLER = "studio_custom_images"
    DESCRIPTION = (
        "Custom::SageMakerStudioCustomImages: lists custom images in Studio domains, user profiles and spaces"
    )
    ACTIONS = SAGEMAKER_ACTIONS
    # arn:aws-us-gov:ssm:us-isof-south-1:<12 digits>:parameter/sagemaker-image-constructs/studio/
    # <domain id, 63>/user-profile/<63>/* (a target's SageMaker ARN is at most 194)
    ARN_SIZE_ESTIMATE = 234
    TIMEOUT = FUNCTION_TIMEOUT
