"""SageMaker ARNs given by users: split, or refused with the shape expected."""

from __future__ import annotations

from aws_cdk import Arn, ArnComponents, ArnFormat

from . import validation


def _split_arn(arn: str, resource: str, owner: str) -> ArnComponents:
    """Split a SageMaker ARN of the given resource type, or say what shape was expected."""
    expected = f"arn:<partition>:sagemaker:<region>:<account>:{resource}/<name>"
    try:
        parts = Arn.split(arn, ArnFormat.SLASH_RESOURCE_NAME)
    except Exception as error:  # jsii raises a generic error for malformed ARNs
        raise validation.ValidationError(f"{owner}: {arn!r} is not an ARN of the form {expected}") from error
    if parts.service != "sagemaker" or parts.resource != resource or not parts.resource_name:
        raise validation.ValidationError(f"{owner}: {arn!r} is not an ARN of the form {expected}")
    return parts


def image_name_from_arn(image_arn: str, owner: str) -> str:
    """The image name of a literal image ARN, or a ValidationError naming ``owner``."""
    name = _split_arn(image_arn, "image", owner).resource_name or ""
    validation.check(owner, "image name", name, validation.IMAGE_NAME)
    return name
