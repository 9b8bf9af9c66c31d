"""Floating aliases, construct side: the one function, its role, the custom resources and their chain."""

from __future__ import annotations

import importlib.util
import itertools
import json
import os
import shutil
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template
from check_resources import without_check
from template_graph import comes_after

from constructs_lib import BaseImage, Image, ImageVersion, ValidationError, aliases, provider

DLC = BaseImage.from_deep_learning_container("pytorch-training", "2.1.0-gpu-py310")
HANDLER = Path(__file__).resolve().parents[1] / "lambda" / "image_version_aliases" / "index.py"


def by_type(template: Template, type_: str) -> dict[str, Any]:
    """The stack's resources of a type, but the base image check's (another function, tested apart)."""
    return without_check(template.find_resources(type_))


def logical_id(construct: Any) -> str:
    return cdk.Stack.of(construct).get_logical_id(construct.node.default_child)


def aliases_id(version: ImageVersion) -> str:
    return cdk.Stack.of(version).get_logical_id(version.node.find_child("Aliases").node.default_child)  # type: ignore[arg-type]


def load_handler() -> ModuleType:
    shared = str(HANDLER.parents[1] / "shared")  # the function's asset holds custom_resource.py beside it
    if shared not in sys.path:
        sys.path.insert(0, shared)
    os.environ.setdefault("AWS_REGION", "us-east-1")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    spec = importlib.util.spec_from_file_location("aliases_handler_contract", HANDLER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_no_function_without_floating_aliases(stack: cdk.Stack) -> None:
    Image(stack, "Image", image_name="img").add_version("V1", base_image=DLC, alias="v1")
    template = Template.from_stack(stack)
    assert by_type(template, "AWS::Lambda::Function") == {}
    template.resource_count_is(aliases.RESOURCE_TYPE, 0)


def test_one_function_serves_every_version_of_every_image(stack: cdk.Stack) -> None:
    for name in ("a", "b"):
        image = Image(stack, name.upper(), image_name=name)
        for n in range(3):
            image.add_version(f"V{n}", base_image=DLC, aliases=[f"n{n}"])
    template = Template.from_stack(stack)
    assert len(by_type(template, "AWS::Lambda::Function")) == 1
    assert len(by_type(template, "AWS::Logs::LogGroup")) == 1
    template.resource_count_is(aliases.RESOURCE_TYPE, 6)
    (function_id,) = by_type(template, "AWS::Lambda::Function")
    for resource in by_type(template, aliases.RESOURCE_TYPE).values():
        assert resource["Properties"]["ServiceToken"] == {"Fn::GetAtt": [function_id, "Arn"]}


def test_function_role_is_scoped_to_the_stacks_images_and_its_log_group(stack: cdk.Stack) -> None:
    for name in ("alpha", "beta"):
        Image(stack, name, image_name=name).add_version("V1", base_image=DLC, aliases=["latest"])
    Image(stack, "NoFloating", image_name="gamma").add_version("V1", base_image=DLC)
    template = Template.from_stack(stack)
    roles = {
        k: v for k, v in by_type(template, "AWS::IAM::Role").items() if k.startswith(aliases.PROVIDER_ID)
    }
    ((role_id, role),) = roles.items()
    assert "ManagedPolicyArns" not in role["Properties"]
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "lambda.amazonaws.com"
    }
    policies = [
        p
        for p in by_type(template, "AWS::IAM::Policy").values()
        if p["Properties"]["Roles"] == [{"Ref": role_id}]
    ]
    (policy,) = policies
    template.resource_count_is("AWS::IAM::ManagedPolicy", 0)
    (log_group_id,) = by_type(template, "AWS::Logs::LogGroup")
    logs_statement, sagemaker_statement = policy["Properties"]["PolicyDocument"]["Statement"]
    assert sorted(logs_statement["Action"]) == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert logs_statement["Resource"] == {"Fn::GetAtt": [log_group_id, "Arn"]}
    assert sorted(sagemaker_statement["Action"]) == sorted(aliases.SAGEMAKER_ACTIONS)
    arns = {json.dumps(cdk.Stack.of(stack).resolve(r)) for r in sagemaker_statement["Resource"]}
    expected = set()
    for name in ("alpha", "beta"):
        for resource, resource_name in (("image", name), ("image-version", f"{name}/*")):
            arn = stack.format_arn(service="sagemaker", resource=resource, resource_name=resource_name)
            expected.add(json.dumps(stack.resolve(arn)))
    assert arns == expected
    assert "*" not in sagemaker_statement["Resource"]


def test_an_image_named_twice_appears_once_in_the_function_policy(stack: cdk.Stack) -> None:
    image = Image(stack, "Image", image_name="img")
    image.add_version("V1", base_image=DLC, aliases=["latest"])
    same = Image.from_image_name(stack, "Same", "img")  # a literal name, where image.image_name is a token
    same.add_version("V2", base_image=DLC, aliases=["stable"])
    policy = aliases._AliasesProvider.of(stack).role.node.find_child("DefaultPolicy").node.default_child
    statements = stack.resolve(policy.policy_document)["Statement"]  # type: ignore[union-attr]
    assert len(statements[1]["Resource"]) == 2


def test_custom_resource_properties_timeout_and_policy_dependency(stack: cdk.Stack) -> None:
    image = Image(stack, "Image", image_name="img")
    version = image.add_version("V1", base_image=DLC, alias="v1", aliases=["latest", "stable"])
    template = Template.from_stack(stack)
    resource = by_type(template, aliases.RESOURCE_TYPE)[aliases_id(version)]
    properties = dict(resource["Properties"])
    timeout = properties.pop("ServiceTimeout")
    assert timeout == str(int(aliases.SERVICE_TIMEOUT.to_seconds()))
    assert int(timeout) <= 900  # minutes, not CloudFormation's default hour
    properties.pop("ServiceToken")
    digest = properties.pop("ConfigDigest")
    assert properties == {
        "ImageName": "img",
        "Version": {"Fn::GetAtt": [logical_id(version), "Version"]},
        "Aliases": ["latest", "stable"],
    }
    assert isinstance(digest, str) and len(digest) == 16
    role = aliases._AliasesProvider.of(stack).role
    policy_id = stack.get_logical_id(role.node.find_child("DefaultPolicy").node.default_child)  # type: ignore[arg-type]
    assert {policy_id, logical_id(role)} <= set(resource["DependsOn"])
    assert aliases.SERVICE_TIMEOUT.to_seconds() > aliases.FUNCTION_TIMEOUT.to_seconds()


def test_custom_resources_are_chained_with_the_versions(stack: cdk.Stack) -> None:
    image = Image(stack, "Image", image_name="img")
    v1 = image.add_version("V1", base_image=DLC, aliases=["latest"])
    v2 = image.add_version("V2", base_image=DLC, aliases=["stable"])
    v3 = image.add_version("V3", base_image=DLC, aliases=["edge"])
    resources = Template.from_stack(stack).to_json()["Resources"]
    # V1 -> V1 aliases -> V2 -> V2 aliases -> V3 -> V3 aliases: no two moves on one image at once.
    order = [node for v in (v1, v2, v3) for node in (logical_id(v), aliases_id(v))]
    for earlier, later in itertools.pairwise(order):
        assert comes_after(resources, later, earlier), f"{later} is not ordered after {earlier}"
        assert not comes_after(resources, earlier, later)
    for version in (v1, v2, v3):
        assert resources[aliases_id(version)]["Properties"]["Version"] == {
            "Fn::GetAtt": [logical_id(version), "Version"]
        }


def digest_of(tmp_path: Path, **mutable: Any) -> str:
    app = cdk.App(outdir=str(tmp_path / f"out{len(list(tmp_path.iterdir()))}"))
    stack = cdk.Stack(app, "Stack")
    version = Image(stack, "Image", image_name="img").add_version(
        "V1", base_image=DLC, aliases=["latest"], **mutable
    )
    resource = Template.from_stack(stack).to_json()["Resources"][aliases_id(version)]
    return resource["Properties"]["ConfigDigest"]  # type: ignore[no-any-return]


def test_config_digest_follows_the_versions_mutable_properties(tmp_path: Path) -> None:
    base = digest_of(tmp_path, release_notes="one", processor="GPU")
    assert digest_of(tmp_path, release_notes="one", processor="GPU") == base
    assert digest_of(tmp_path, release_notes="two", processor="GPU") != base
    assert digest_of(tmp_path, release_notes="one", processor="CPU") != base
    assert digest_of(tmp_path, release_notes="one", processor="GPU", alias="v1") != base


def asset_directory(app: cdk.App, stack: cdk.Stack) -> Path:
    assembly = app.synth()
    (function,) = by_type(Template.from_stack(stack), "AWS::Lambda::Function").values()
    asset_hash = function["Properties"]["Code"]["S3Key"].removesuffix(".zip")
    return Path(assembly.directory) / f"asset.{asset_hash}"


def test_function_asset_holds_the_handler_and_crhelper_and_nothing_compiled(
    app: cdk.App, stack: cdk.Stack
) -> None:
    Image(stack, "Image", image_name="img").add_version("V1", base_image=DLC, aliases=["latest"])
    directory = asset_directory(app, stack)
    files = sorted(str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file())
    assert "index.py" in files and "custom_resource.py" in files
    assert "crhelper/__init__.py" in files and "crhelper/resource_helper.py" in files
    assert not [f for f in files if "__pycache__" in f or f.endswith(".pyc")]
    assert (directory / "index.py").read_bytes() == HANDLER.read_bytes()
    shared = HANDLER.parents[1] / "shared" / "custom_resource.py"
    assert (directory / "custom_resource.py").read_bytes() == shared.read_bytes()


def test_asset_hash_ignores_byte_code_left_beside_the_handler(tmp_path: Path) -> None:
    def hash_of() -> str:
        provider.function_code_directory.cache_clear()
        app = cdk.App(outdir=str(tmp_path / f"out{len(list(tmp_path.iterdir()))}"))
        stack = cdk.Stack(app, "Stack")
        Image(stack, "Image", image_name="img").add_version("V1", base_image=DLC, aliases=["latest"])
        return asset_directory(app, stack).name

    before = hash_of()
    cache = HANDLER.parent / "__pycache__"
    existed = cache.exists()
    cache.mkdir(exist_ok=True)
    stray = cache / "index.cpython-399.pyc"
    stray.write_bytes(os.urandom(64))
    try:
        assert hash_of() == before
    finally:
        stray.unlink()
        if not existed:
            shutil.rmtree(cache)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"aliases": [".latest"]}, r"invalid aliases '\.latest'.*pattern"),
        ({"aliases": [""]}, r"invalid aliases '': length must be 1-128"),
        ({"aliases": ["a" * 129]}, r"invalid aliases 'a+': length"),
        ({"aliases": ["latest", "latest"]}, r"'latest' is listed twice"),
        ({"aliases": ["v1"], "alias": "v1"}, r"'v1' is already the version's alias"),
    ],
)
def test_floating_aliases_are_validated_like_alias(
    stack: cdk.Stack, kwargs: dict[str, Any], message: str
) -> None:
    image = Image(stack, "Image", image_name="img")
    with pytest.raises(ValidationError, match=message):
        image.add_version("V1", base_image=DLC, **kwargs)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ({"aliases": ["latest"]}, {"aliases": ["latest"]}),
        ({"alias": "latest"}, {"aliases": ["latest"]}),
        ({"aliases": ["latest"]}, {"alias": "latest"}),
    ],
)
def test_an_alias_claimed_by_two_versions_of_one_image_is_refused(
    stack: cdk.Stack, first: dict[str, Any], second: dict[str, Any]
) -> None:
    image = Image(stack, "Image", image_name="img")
    image.add_version("V1", base_image=DLC, **first)
    with pytest.raises(ValidationError, match=r"alias 'latest' is already claimed by 'Stack/Image/V1'"):
        ImageVersion(stack, "V2", image=image, base_image=DLC, **second)


def test_contract_handler_calls_exactly_what_the_policy_allows(stack: cdk.Stack) -> None:
    handler = load_handler()
    assert tuple(sorted(handler.SAGEMAKER_ACTIONS)) == tuple(sorted(aliases.SAGEMAKER_ACTIONS))
    Image(stack, "Image", image_name="img").add_version("V1", base_image=DLC, aliases=["latest"])
    template = Template.from_stack(stack)
    sagemaker_actions = {
        action
        for policy in by_type(template, "AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        for action in (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        if action.startswith("sagemaker:")
    }
    assert sagemaker_actions == set(handler.SAGEMAKER_ACTIONS)


@pytest.mark.parametrize("how", ["keyword", "apply_removal_policy"])
def test_a_retained_version_keeps_its_floating_aliases(stack: cdk.Stack, how: str) -> None:
    image = Image(stack, "Image", image_name="img")
    if how == "keyword":
        kept = image.add_version(
            "V1", base_image=DLC, aliases=["latest"], removal_policy=cdk.RemovalPolicy.RETAIN
        )
    else:
        kept = image.add_version("V1", base_image=DLC, aliases=["latest"])
        kept.apply_removal_policy(cdk.RemovalPolicy.RETAIN)
    other = image.add_version("V2", base_image=DLC, aliases=["stable"])
    resources = Template.from_stack(stack).to_json()["Resources"]
    for logical in (logical_id(kept), aliases_id(kept)):
        assert resources[logical]["DeletionPolicy"] == "Retain"
        assert resources[logical]["UpdateReplacePolicy"] == "Retain"
    for logical in (logical_id(other), aliases_id(other)):  # the default stays CloudFormation's
        assert resources[logical].get("DeletionPolicy", "Delete") == "Delete"


def test_removal_policy_keyword_of_image(stack: cdk.Stack) -> None:
    Image(stack, "Kept", image_name="kept", removal_policy=cdk.RemovalPolicy.RETAIN)
    Image(stack, "Default", image_name="default")
    images = Template.from_stack(stack).find_resources("AWS::SageMaker::Image")
    assert sorted(r.get("DeletionPolicy", "Delete") for r in images.values()) == ["Delete", "Retain"]
