"""Every rule AWS validates, at synth time: rejected values name the property, value and rule;
accepted edge values reach the template unchanged; tokens pass through."""

from __future__ import annotations

import re
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from constructs_lib import BaseImage, Image, ImageVersion, ValidationError

DLC = BaseImage.from_deep_learning_container("pytorch-training", "2.1.0-gpu-py310")
ARABIC_EIGHT = "\u0668"  # a Unicode digit that Python's \d matches but Java's (ASCII) does not

IMAGE_CASES = [
    ("image_name", "", "ImageName", "length must be 1-63"),
    ("image_name", "a" * 64, "ImageName", "length must be 1-63"),
    ("image_name", "-image", "ImageName", "pattern"),
    ("image_name", "image-", "ImageName", "pattern"),
    ("image_name", "my--image", "ImageName", "pattern"),
    ("image_name", "my.-image", "ImageName", "pattern"),
    ("image_name", "my_image", "ImageName", "pattern"),
    ("image_name", "image\n", "ImageName", "pattern"),
    ("display_name", "", "ImageDisplayName", "length must be 1-128"),
    ("display_name", "a" * 129, "ImageDisplayName", "length must be 1-128"),
    ("display_name", "curly{name}", "ImageDisplayName", "pattern"),
    ("display_name", "caf\u00e9", "ImageDisplayName", "pattern"),
    ("description", "", "ImageDescription", "length must be 1-512"),
    ("description", "d" * 513, "ImageDescription", "length must be 1-512"),
]

VERSION_CASES = [
    ("alias", "", "Alias", "length must be 1-128"),
    ("alias", "a" * 129, "Alias", "length must be 1-128"),
    ("alias", ".hidden", "Alias", "pattern"),
    ("alias", "-v1", "Alias", "pattern"),
    ("alias", "v 1", "Alias", "pattern"),
    ("alias", "v1/latest", "Alias", "pattern"),
    ("alias", "v1\n", "Alias", "pattern"),
    ("ml_framework", "", "MLFramework", "length must be 1-128"),
    ("ml_framework", "PyTorch-1.8", "MLFramework", "pattern"),
    ("ml_framework", "PyTorch  1.8", "MLFramework", "pattern"),
    ("ml_framework", "PyTorch1", "MLFramework", "pattern"),
    ("ml_framework", "PyTorch1.8.1.2", "MLFramework", "pattern"),
    ("ml_framework", "1.8", "MLFramework", "pattern"),
    ("ml_framework", f"PyTorch1.{ARABIC_EIGHT}", "MLFramework", "pattern"),
    ("ml_framework", "a" * 126 + "1.0", "MLFramework", "length must be 1-128"),
    ("programming_lang", "", "ProgrammingLang", "length must be 1-128"),
    ("programming_lang", "Python 3", "ProgrammingLang", "pattern"),
    ("programming_lang", "Python3.6 ", "ProgrammingLang", "pattern"),
    ("programming_lang", f"Python3.{ARABIC_EIGHT}", "ProgrammingLang", "pattern"),
    ("release_notes", "", "ReleaseNotes", "length must be 1-255"),
    ("release_notes", "n" * 256, "ReleaseNotes", "length must be 1-255"),
    ("processor", "gpu", "Processor", "must be one of CPU, GPU"),
    ("job_type", "TRAIN", "JobType", "must be one of TRAINING, INFERENCE, NOTEBOOK_KERNEL"),
    ("vendor_guidance", "stable", "VendorGuidance", "must be one of NOT_PROVIDED, STABLE"),
]


def error_pattern(keyword: str, cfn: str, value: str, rule: str) -> str:
    return rf"{re.escape(keyword)} \({cfn}\) {re.escape(repr(value))}: .*{re.escape(rule)}"


@pytest.mark.parametrize(("keyword", "value", "cfn", "rule"), IMAGE_CASES)
def test_image_rejects(stack: cdk.Stack, keyword: str, value: str, cfn: str, rule: str) -> None:
    props: dict[str, Any] = {"image_name": "ok", keyword: value}
    with pytest.raises(ValidationError, match=error_pattern(keyword, cfn, value, rule)):
        Image(stack, "Image", **props)


@pytest.mark.parametrize(("keyword", "value", "cfn", "rule"), VERSION_CASES)
def test_image_version_rejects(stack: cdk.Stack, keyword: str, value: str, cfn: str, rule: str) -> None:
    image = Image(stack, "Image", image_name="ok")
    with pytest.raises(ValidationError, match=error_pattern(keyword, cfn, value, rule)):
        ImageVersion(stack, "V", image=image, base_image=DLC, **{keyword: value})


def test_error_names_the_construct(stack: cdk.Stack) -> None:
    image = Image(stack, "Image", image_name="ok")
    with pytest.raises(ValidationError, match=r"^ImageVersion 'Stack/Image/Broken': invalid ml_framework"):
        image.add_version("Broken", base_image=DLC, ml_framework="PyTorch-1.8")


@pytest.mark.parametrize(
    ("keyword", "value", "cfn"),
    [
        ("image_name", "a" * 63, "ImageName"),
        ("image_name", "a.b-c.9", "ImageName"),
        ("image_name", "A", "ImageName"),
        ("display_name", "!#$%&()*+,-./:;<=>?@[]^_ Az09", "ImageDisplayName"),  # the space.._ range
        ("display_name", "d" * 128, "ImageDisplayName"),
        ("description", "Any text at all, even \u00e9 and {braces}" + "x" * 470, "ImageDescription"),
    ],
)
def test_image_accepts_edge_values_unchanged(stack: cdk.Stack, keyword: str, value: str, cfn: str) -> None:
    props: dict[str, Any] = {"image_name": "ok", keyword: value}
    Image(stack, "Image", **props)
    Template.from_stack(stack).has_resource_properties("AWS::SageMaker::Image", {cfn: value})


@pytest.mark.parametrize(
    ("keyword", "value", "cfn"),
    [
        ("alias", "a" * 128, "Alias"),
        ("alias", "_v1", "Alias"),
        ("alias", "1.0-rc_1", "Alias"),
        ("alias", "v1.", "Alias"),
        ("ml_framework", "PyTorch 1.8", "MLFramework"),
        ("ml_framework", "TensorFlow2.14.1", "MLFramework"),
        ("ml_framework", "a" * 125 + "1.0", "MLFramework"),
        ("programming_lang", "Python 3.10", "ProgrammingLang"),
        ("release_notes", "n" * 255, "ReleaseNotes"),
        ("release_notes", "x", "ReleaseNotes"),
    ],
)
def test_image_version_accepts_edge_values_unchanged(
    stack: cdk.Stack, keyword: str, value: str, cfn: str
) -> None:
    image = Image(stack, "Image", image_name="ok")
    ImageVersion(stack, "V", image=image, base_image=DLC, **{keyword: value})  # type: ignore[arg-type]
    Template.from_stack(stack).has_resource_properties("AWS::SageMaker::ImageVersion", {cfn: value})


def test_tokens_pass_through_unvalidated(stack: cdk.Stack) -> None:
    framework = cdk.CfnParameter(stack, "Framework").value_as_string
    processor = cdk.CfnParameter(stack, "Processor").value_as_string
    name = cdk.CfnParameter(stack, "Name").value_as_string
    image = Image(stack, "Image", image_name=name)
    image.add_version("V", base_image=DLC, ml_framework=framework, processor=processor)
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::SageMaker::ImageVersion",
        {
            "MLFramework": {"Ref": "Framework"},
            "Processor": {"Ref": "Processor"},
            "ImageName": {"Ref": "Name"},
        },
    )


@pytest.mark.parametrize(
    ("base_image", "message"),
    [
        (lambda: BaseImage.from_uri(""), r"base_image \(BaseImage\) '': length must be 1-255"),
        (
            lambda: BaseImage.from_uri("r/" + "x" * 254),
            r"base_image \(BaseImage\) 'r/x+': length must be 1-255",
        ),
        (
            lambda: BaseImage.from_deep_learning_container("PyTorch-Training", "1.0"),
            r"repository_name 'PyTorch-Training': must match",
        ),
        (lambda: BaseImage.from_deep_learning_container("pytorch-training", "bad tag"), r"tag 'bad tag'"),
    ],
)
def test_base_image_rules(stack: cdk.Stack, base_image: Any, message: str) -> None:
    image = Image(stack, "Image", image_name="ok")
    with pytest.raises(ValidationError, match=message):
        image.add_version("V", base_image=base_image())


def test_repeated_alias_among_versions_is_reported_before_deploy(stack: cdk.Stack) -> None:
    image = Image(stack, "Image", image_name="ok")
    image.add_version("V1", base_image=DLC, alias="prod")
    with pytest.raises(ValidationError, match="already claimed"):
        ImageVersion(stack, "V2", image=image, base_image=DLC, alias="prod")
