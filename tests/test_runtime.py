"""The functions' Lambda runtime, built by name so that every supported aws-cdk-lib can express it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Template

from constructs_lib import BaseImage, Image
from constructs_lib.runtime import newest_python_runtime


def functions(stack: cdk.Stack) -> list[dict[str, Any]]:
    resources = Template.from_stack(stack).find_resources("AWS::Lambda::Function")
    return [resource["Properties"] for resource in resources.values()]


def test_the_runtime_is_python_3_14_of_the_python_family() -> None:
    runtime = newest_python_runtime()
    assert runtime.name == "python3.14"
    assert runtime.family == lambda_.RuntimeFamily.PYTHON


def test_it_is_what_the_constant_would_give_where_aws_cdk_lib_has_one() -> None:
    """Both make test (newest aws-cdk-lib) and make test-lowest (the floor) have PYTHON_3_14."""
    constant = lambda_.Runtime.PYTHON_3_14
    runtime = newest_python_runtime()
    assert (runtime.name, runtime.family) == (constant.name, constant.family)
    assert runtime.bundling_image.image == constant.bundling_image.image


def test_the_library_functions_synthesize_with_it(tmp_path: Path) -> None:
    """The aliases' function and the base image check's (on by default)."""
    stack = cdk.Stack(cdk.App(outdir=str(tmp_path)), "Stack")
    base = BaseImage.from_deep_learning_container("pytorch-training", "2.1.0-gpu-py310")
    Image(stack, "Image", image_name="img").add_version("V1", base_image=base, aliases=["latest"])
    assert [function["Runtime"] for function in functions(stack)] == ["python3.14"] * 2
