"""What users type: None from an unset context value for a required keyword, and natural construct ids."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ecr as ecr
from aws_cdk.assertions import Template

from constructs_lib import (
    AppImageConfig,
    BaseImage,
    ContainerConfig,
    Image,
    ImageVersion,
    KernelGatewayConfig,
    KernelSpec,
    ValidationError,
)

BASE = BaseImage.from_uri("111122223333.dkr.ecr.us-east-1.amazonaws.com/base:1")
# Every required keyword of every construct and factory, given None as `try_get_context` gives it.
REQUIRED: dict[str, tuple[str, Callable[[cdk.Stack, Any], object]]] = {
    "Image image_name": ("image_name (ImageName)", lambda s, none: Image(s, "I", image_name=none)),
    "Image.from_image_name": ("image_name", lambda s, none: Image.from_image_name(s, "I", none)),
    "Image.from_image_arn": ("image_arn", lambda s, none: Image.from_image_arn(s, "I", none)),
    "ImageVersion image": ("image", lambda s, none: ImageVersion(s, "V", image=none, base_image=BASE)),
    "ImageVersion base_image": (
        "base_image (BaseImage)",
        lambda s, none: ImageVersion(s, "V", image=Image.from_image_name(s, "I", "i"), base_image=none),
    ),
    "ImageVersion.from_image_version_arn": (
        "image_version_arn",
        lambda s, none: ImageVersion.from_image_version_arn(s, "V", none),
    ),
    "BaseImage.from_uri": ("uri", lambda s, none: BaseImage.from_uri(none)),
    "BaseImage.from_ecr_repository repository": (
        "repository",
        lambda s, none: BaseImage.from_ecr_repository(none),
    ),
    "BaseImage.from_ecr_repository tag": (
        "tag",
        lambda s, none: BaseImage.from_ecr_repository(ecr.Repository(s, "R"), none),
    ),
    "BaseImage.from_deep_learning_container repository_name": (
        "repository_name",
        lambda s, none: BaseImage.from_deep_learning_container(none, "2.1"),
    ),
    "BaseImage.from_deep_learning_container tag": (
        "tag",
        lambda s, none: BaseImage.from_deep_learning_container("pytorch-training", none),
    ),
    "BaseImage.from_asset": ("directory", lambda s, none: BaseImage.from_asset(none)),
    "AppImageConfig.from_app_image_config_name name": (
        "name (AppImageConfigName)",
        lambda s, none: AppImageConfig.from_app_image_config_name(s, "C", none, "JupyterLab"),
    ),
    "AppImageConfig.from_app_image_config_name app_type": (
        "app_type",
        lambda s, none: AppImageConfig.from_app_image_config_name(s, "C", "config", none),
    ),
    "KernelSpec name": (
        "kernel_gateway.kernel_specs[0].name (KernelGatewayImageConfig.KernelSpecs[0].Name)",
        lambda s, none: AppImageConfig(
            s, "C", kernel_gateway=KernelGatewayConfig(kernel_specs=[KernelSpec(name=none)])
        ),
    ),
}


@pytest.mark.parametrize("case", list(REQUIRED))
def test_none_for_a_required_keyword_is_a_validation_error_naming_it(stack: cdk.Stack, case: str) -> None:
    keyword, make = REQUIRED[case]
    unset = stack.node.try_get_context("not-passed")
    assert unset is None
    with pytest.raises(ValidationError) as error:
        make(stack, unset)
    assert f"{keyword} is required, got None" in str(error.value)


def logical_ids(stack: cdk.Stack, type_: str) -> list[str]:
    return list(Template.from_stack(stack).find_resources(type_))


@pytest.mark.parametrize("id", ["Default", "Resource"])
def test_natural_ids_for_versions_and_attachments_work(stack: cdk.Stack, id: str) -> None:
    image = Image(stack, "Image", image_name="team-image")
    first = image.add_version("V1", base_image=BASE)
    natural = image.add_version(id, base_image=BASE)
    lab = AppImageConfig(stack, "Lab", jupyter_lab=ContainerConfig())
    attachment = image.attach_to_studio(id, app_image_config=lab, version=natural, domain="d-0123abc")
    # Other ids keep their place (and their logical ids); the reserved ones sit in a container.
    assert first.node.path == "Stack/Image/V1"
    assert natural.node.path == f"Stack/Image/Versions/{id}"
    assert attachment.node.path == f"Stack/Image/StudioAttachments/{id}"
    assert image.node.default_child is not None  # still the CfnImage, not ambiguous
    image.apply_removal_policy(cdk.RemovalPolicy.RETAIN)  # uses the default child
    template = Template.from_stack(stack).to_json()["Resources"]
    versions = [k for k, v in template.items() if v["Type"] == "AWS::SageMaker::ImageVersion"]
    assert len(versions) == 2 and stack.get_logical_id(natural.resource) in versions
    (image_id,) = [k for k, v in template.items() if v["Type"] == "AWS::SageMaker::Image"]
    assert image_id not in versions
    assert template[image_id]["DeletionPolicy"] == "Retain"


def test_both_reserved_ids_on_one_image_work_together(stack: cdk.Stack) -> None:
    """Each alone keeps its container (and its logical ids); the second gets a container of its own,
    since one holding both has no default child."""
    image = Image(stack, "Image", image_name="team-image")
    default = image.add_version("Default", base_image=BASE)
    resource = image.add_version("Resource", base_image=BASE)
    lab = AppImageConfig(stack, "Lab", jupyter_lab=ContainerConfig())
    attached = [
        image.attach_to_studio(id, app_image_config=lab, version=v, domain="d-0123abc", user_profile=user)
        for id, v, user in (("Resource", resource, "bob"), ("Default", default, "alice"))
    ]
    assert default.node.path == "Stack/Image/Versions/Default"
    assert resource.node.path == "Stack/Image/VersionsResource/Resource"
    assert [a.node.path for a in attached] == [
        "Stack/Image/StudioAttachments/Resource",
        "Stack/Image/StudioAttachmentsDefault/Default",
    ]
    template = Template.from_stack(stack).to_json()["Resources"]  # synthesizes: no ambiguity
    versions = [k for k, v in template.items() if v["Type"] == "AWS::SageMaker::ImageVersion"]
    assert sorted(versions) == sorted(stack.get_logical_id(v.resource) for v in (default, resource))


def test_add_version_keeps_its_place_for_ordinary_ids(stack: cdk.Stack) -> None:
    """Logical ids of versions already deployed must not move (a moved one is a new version)."""
    image = Image(stack, "Image", image_name="team-image")
    version = image.add_version("V1", base_image=BASE)
    assert stack.get_logical_id(version.resource).startswith("ImageV1")
