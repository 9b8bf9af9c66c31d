"""What the construct and the Studio function agree on: the resource type, ids, actions, budgets, and
where SageMaker has CustomImages."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_sagemaker as sagemaker

from ..enums import AppType

RESOURCE_TYPE = "Custom::SageMakerStudioCustomImages"
# The library's own id for its one Studio function per stack (construct ids are API: never change it).
PROVIDER_ID = "SageMakerStudioCustomImagese6df6e51a32b4e069fe01e36b4723fe4"
# The id prefix of the construct that holds a stack's entries on one existing target (then the target).
TARGET_ID_PREFIX = "StudioCustomImages"
# Exactly what lambda/studio_custom_images/index.py calls (a contract test holds the two together).
SAGEMAKER_ACTIONS = (
    "sagemaker:DescribeDomain",
    "sagemaker:UpdateDomain",
    "sagemaker:DescribeUserProfile",
    "sagemaker:UpdateUserProfile",
    "sagemaker:DescribeSpace",
    "sagemaker:UpdateSpace",
)
# The ledger (SSM Parameter Store): a target's records live under LEDGER_PREFIX/<physical id>, one record
# per owner (a per-target resource) split over parameters <owner hash>/<n>. The function reads a target's
# path and writes and deletes below it; these are exactly the SSM actions it calls.
LEDGER_PREFIX = "/sagemaker-image-constructs/studio"
LEDGER_VERSION = "1"  # the record format; the property also makes 0.3.0's resources update once
SSM_READ_ACTIONS = ("ssm:GetParametersByPath",)  # authorized against the path asked for
SSM_WRITE_ACTIONS = ("ssm:PutParameter", "ssm:DeleteParameters")
SSM_ACTIONS = SSM_READ_ACTIONS + SSM_WRITE_ACTIONS
# Reconciliation: an EventBridge rule's input that makes the function re-apply a stack's records.
RECONCILE_KEY = "SageMakerImageConstructs"
RECONCILE_VALUE = "reconcile"
DEFAULT_RECONCILE_INTERVAL = Duration.minutes(10)
# The metric each restore publishes (Embedded Metric Format in the function's log): alarm on it.
METRIC_NAMESPACE = "SageMakerImageConstructs/Studio"
METRIC_NAME = "EntriesRestored"
# The function's waits and retries share the handler's budget (its MAX_SECONDS) and stop its
# SAFETY_MARGIN_SECONDS before the Lambda deadline: the function lives exactly as long as both, so the
# handler answers with its own reason, never Lambda's timeout. CloudFormation gives up on a silent
# function after SERVICE_TIMEOUT instead of the default hour. (A test holds these to the handler's.)
HANDLER_MAX_SECONDS = 600
HANDLER_SAFETY_MARGIN_SECONDS = 30
FUNCTION_TIMEOUT = Duration.seconds(HANDLER_MAX_SECONDS + HANDLER_SAFETY_MARGIN_SECONDS)
SERVICE_TIMEOUT = Duration.minutes(15)

# SageMaker lists at most this many CustomImages in one <AppType>AppSettings (botocore's model).
MAX_CUSTOM_IMAGES = 200
# A user profile's or a space's KernelGateway list: CloudFormation's schemas (AWS::SageMaker::UserProfile,
# ::Space) allow 30 items; the API reference's text for KernelGatewayAppSettings says 5 there.
MAX_MEMBER_KERNEL_GATEWAY = 30
DOCUMENTED_MEMBER_KERNEL_GATEWAY = 5
KERNEL_GATEWAY_CAP_WARNING = "@sagemaker-image-constructs/studio:kernel-gateway-images-per-member"


# Warning ids are API: users acknowledge them with Annotations.of(...).acknowledge_warning(id).
STUDIO_CLASSIC_WARNING = "@sagemaker-image-constructs/studio:studio-classic"
NO_VERSION_WARNING = "@sagemaker-image-constructs/studio:image-without-version"
EXECUTION_ROLE_WARNING = "@sagemaker-image-constructs/studio:execution-role-not-granted"

# Where SageMaker has CustomImages, by the settings object that holds them (botocore's model).
APP_TYPES_IN: dict[str, tuple[AppType, ...]] = {
    "DefaultUserSettings": (AppType.KERNEL_GATEWAY, AppType.JUPYTER_LAB, AppType.CODE_EDITOR),
    "DefaultSpaceSettings": (AppType.KERNEL_GATEWAY, AppType.JUPYTER_LAB),
    "UserSettings": (AppType.KERNEL_GATEWAY, AppType.JUPYTER_LAB, AppType.CODE_EDITOR),
    "SpaceSettings": (AppType.KERNEL_GATEWAY,),
}
# The key of each settings object, and of each app's settings, in an L1's properties.
_SETTINGS_KEY = {
    "DefaultUserSettings": "defaultUserSettings",
    "DefaultSpaceSettings": "defaultSpaceSettings",
    "UserSettings": "userSettings",
    "SpaceSettings": "spaceSettings",
}
_APP_SETTINGS_KEY = {
    AppType.KERNEL_GATEWAY: "kernelGatewayAppSettings",
    AppType.JUPYTER_LAB: "jupyterLabAppSettings",
    AppType.CODE_EDITOR: "codeEditorAppSettings",
}

Target = str | sagemaker.CfnDomain | sagemaker.CfnUserProfile | sagemaker.CfnSpace
