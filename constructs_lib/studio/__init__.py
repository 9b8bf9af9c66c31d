"""Studio attachment: list an image (a version of it, or its latest) in a Studio domain, user profile or
space, so that the users it is for can run it.

A target of the attachment's own stack (``CfnDomain``, ``CfnUserProfile``, ``CfnSpace``) gets the entry
merged into its properties at synth (``merged``). Any other target, an existing one (a string) or an L1 of
another stack, gets it from ``Custom::SageMakerStudioCustomImages`` (``existing``, the function in
``lambda/studio_custom_images``): one resource per target and stack holds all of the stack's entries
there, records them in the account's ledger and re-applies them on a schedule (``reconcile``).
``docs/studio-custom-resource.md`` is the contract.
"""

from ..enums import ReconcileDefault
from .attachment import StudioAttachment
from .contract import (
    APP_TYPES_IN,
    DEFAULT_RECONCILE_INTERVAL,
    EXECUTION_ROLE_WARNING,
    FUNCTION_TIMEOUT,
    HANDLER_MAX_SECONDS,
    HANDLER_SAFETY_MARGIN_SECONDS,
    KERNEL_GATEWAY_CAP_WARNING,
    LEDGER_PREFIX,
    LEDGER_VERSION,
    MAX_CUSTOM_IMAGES,
    METRIC_NAME,
    METRIC_NAMESPACE,
    NO_VERSION_WARNING,
    PROVIDER_ID,
    RECONCILE_KEY,
    RECONCILE_VALUE,
    RESOURCE_TYPE,
    SAGEMAKER_ACTIONS,
    SERVICE_TIMEOUT,
    SSM_ACTIONS,
    STUDIO_CLASSIC_WARNING,
    TARGET_ID_PREFIX,
)
from .function import _StudioProvider as _StudioProvider  # for the tests: not public
from .reconcile import RECONCILE_ID

__all__ = [
    "APP_TYPES_IN",
    "DEFAULT_RECONCILE_INTERVAL",
    "EXECUTION_ROLE_WARNING",
    "FUNCTION_TIMEOUT",
    "HANDLER_MAX_SECONDS",
    "HANDLER_SAFETY_MARGIN_SECONDS",
    "KERNEL_GATEWAY_CAP_WARNING",
    "LEDGER_PREFIX",
    "LEDGER_VERSION",
    "MAX_CUSTOM_IMAGES",
    "METRIC_NAME",
    "METRIC_NAMESPACE",
    "NO_VERSION_WARNING",
    "PROVIDER_ID",
    "RECONCILE_ID",
    "RECONCILE_KEY",
    "RECONCILE_VALUE",
    "RESOURCE_TYPE",
    "SAGEMAKER_ACTIONS",
    "SERVICE_TIMEOUT",
    "SSM_ACTIONS",
    "STUDIO_CLASSIC_WARNING",
    "TARGET_ID_PREFIX",
    "ReconcileDefault",
    "StudioAttachment",
]
