"""What both custom-resource functions get from _FunctionProvider: runtime, architecture, timeout, logs."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Match, Template

from constructs_lib import (
    AppImageConfig,
    BaseImage,
    Image,
    KernelGatewayConfig,
    KernelSpec,
    aliases,
    base_image_check,
    studio,
)

DLC = BaseImage.from_deep_learning_container("pytorch-training", "2.1.0-gpu-py310")


def with_aliases(stack: cdk.Stack) -> None:
    Image(stack, "Image", image_name="img").add_version(
        "V1", base_image=DLC, aliases=["latest"], check_base_image=False
    )


def with_base_image_check(stack: cdk.Stack) -> None:
    Image(stack, "Image", image_name="img").add_version("V1", base_image=DLC)


def with_studio_attachment(stack: cdk.Stack) -> None:
    config = AppImageConfig(stack, "Config", kernel_gateway=KernelGatewayConfig([KernelSpec("python3")]))
    Image(stack, "Image", image_name="img").attach_to_studio(
        "Attach", app_image_config=config, domain="d-0123abc"
    )


@pytest.mark.parametrize(
    ("build", "kind"),
    [(with_aliases, aliases), (with_studio_attachment, studio), (with_base_image_check, base_image_check)],
    ids=["aliases", "studio", "base_image_check"],
)
def test_function_runtime_architecture_timeout_and_log_group(
    stack: cdk.Stack, build: Callable[[cdk.Stack], None], kind: ModuleType
) -> None:
    build(stack)
    template = Template.from_stack(stack)
    ((function_id, function),) = template.find_resources("AWS::Lambda::Function").items()
    (log_group_id,) = template.find_resources("AWS::Logs::LogGroup")
    runtime = cdk.aws_lambda.Runtime
    pythons = [getattr(runtime, n).name for n in dir(runtime) if n.startswith("PYTHON_3_")]
    newest = max(pythons, key=lambda name: int(name.split(".")[1]))
    properties = function["Properties"]
    assert properties["Runtime"] == newest
    assert properties["Architectures"] == ["arm64"]
    assert properties["Handler"] == "index.handler"
    assert properties["Timeout"] == kind.FUNCTION_TIMEOUT.to_seconds()
    assert properties["LoggingConfig"] == {"LogGroup": {"Ref": log_group_id}}
    template.has_resource_properties("AWS::Logs::LogGroup", {"RetentionInDays": Match.any_value()})
    template.resource_count_is("Custom::LogRetention", 0)
    assert function_id.startswith(kind.PROVIDER_ID)


@pytest.mark.parametrize("studio_first", [False, True], ids=["aliases-first", "studio-first"])
def test_both_functions_in_one_stack_are_two_providers(stack: cdk.Stack, studio_first: bool) -> None:
    """One provider per kind of function and stack: a registry keyed by the stack alone would hand the
    second kind the first one's function, role and actions."""
    config = AppImageConfig(stack, "Config", kernel_gateway=KernelGatewayConfig([KernelSpec("python3")]))
    image = Image(stack, "Image", image_name="img")

    def add_version() -> None:  # the base image check's function, a third kind, is tested apart
        image.add_version("V1", base_image=DLC, aliases=["latest"], check_base_image=False)

    def attach() -> None:
        image.attach_to_studio("Attach", app_image_config=config, domain="d-0123abc")

    for build in (attach, add_version) if studio_first else (add_version, attach):
        build()
    assert aliases._AliasesProvider.of(stack) is not studio._StudioProvider.of(stack)
    assert isinstance(aliases._AliasesProvider.of(stack), aliases._AliasesProvider)
    assert isinstance(studio._StudioProvider.of(stack), studio._StudioProvider)

    resources = Template.from_stack(stack).to_json()["Resources"]
    for kind in (aliases, studio):
        (function_id,) = [
            k
            for k, v in resources.items()
            if v["Type"] == "AWS::Lambda::Function" and k.startswith(kind.PROVIDER_ID)
        ]
        (role_id,) = [
            k
            for k, v in resources.items()
            if v["Type"] == "AWS::IAM::Role" and k.startswith(kind.PROVIDER_ID)
        ]
        # The kind's custom resource calls the kind's own function, which runs with the kind's own role.
        (custom,) = [v for v in resources.values() if v["Type"] == kind.RESOURCE_TYPE]
        assert custom["Properties"]["ServiceToken"] == {"Fn::GetAtt": [function_id, "Arn"]}
        assert resources[function_id]["Properties"]["Role"] == {"Fn::GetAtt": [role_id, "Arn"]}
        # The role may call the kind's actions, and none of the other kind's.
        actions = {
            action
            for resource in resources.values()
            if {"Ref": role_id} in resource.get("Properties", {}).get("Roles", [])
            for statement in resource["Properties"]["PolicyDocument"]["Statement"]
            for action in (
                statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            )
            if action.startswith("sagemaker:")
        }
        assert actions == set(kind.SAGEMAKER_ACTIONS)
    assert len([v for v in resources.values() if v["Type"] == "AWS::Lambda::Function"]) == 2
