"""The README's `cdk import` example synthesizes what CloudFormation's resource import needs, by AWS's
resource schemas (cfn-lint's copy): a Retain DeletionPolicy on every resource to import, the
create-only properties that name the existing image and versions as literals, and nothing that the
import would have to create. The identifiers the README tells the user to give are the schemas'."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template
from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

from constructs_lib import BaseImage, Image

Resources = dict[str, dict[str, Any]]

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
SECTION = re.search(r"^### Adopting existing images \(`cdk import`\)\n(.*?)^### ", README, re.S | re.M)
IMAGE = "AWS::SageMaker::Image"
VERSION = "AWS::SageMaker::ImageVersion"
CONFIG = "AWS::SageMaker::AppImageConfig"
RETAIN = "removal_policy=cdk.RemovalPolicy.RETAIN,"
ENV = cdk.Environment(account="111122223333", region="eu-west-1")
REGISTRY = "111122223333.dkr.ecr.eu-west-1.amazonaws.com/legacy/trainer"


def schema(type_: str) -> dict[str, Any]:
    return PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", type_).schema  # type: ignore[no-any-return]


def prop(pointer: str) -> str:
    return pointer.removeprefix("/properties/")


def section() -> str:
    assert SECTION, "README has a section 'Adopting existing images (`cdk import`)'"
    return SECTION.group(1)


def example() -> str:
    (block,) = re.findall(r"```python\n(.*?)```", section(), re.S)
    return block  # type: ignore[no-any-return]


def mapping() -> dict[str, dict[str, str]]:
    (block,) = re.findall(r"```json\n(.*?)```", section(), re.S)
    return json.loads(block)  # type: ignore[no-any-return]


def synthesize(code: str) -> Resources:
    """Run the README's block as it follows the earlier ones (which define cdk, app, Image, BaseImage)."""
    names: dict[str, Any] = {"cdk": cdk, "app": cdk.App(), "Image": Image, "BaseImage": BaseImage}
    exec(compile(code, "<README: Adopting existing images>", "exec"), names)
    return Template.from_stack(names["adopted"]).to_json()["Resources"]  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def adopted() -> Resources:
    return synthesize(example())


def of_type(resources: Resources, type_: str) -> Resources:
    return {logical_id: r for logical_id, r in resources.items() if r["Type"] == type_}


def version_order(resources: Resources) -> list[str]:
    """The versions' logical ids along their DependsOn chain, from the one that waits for the image."""
    versions = of_type(resources, VERSION)
    images = set(of_type(resources, IMAGE))
    order = [next(v for v, r in versions.items() if images & set(r.get("DependsOn", [])))]
    while follower := [v for v, r in versions.items() if order[-1] in r.get("DependsOn", [])]:
        order.extend(follower)
    assert sorted(order) == sorted(versions)
    return order


def references(node: Any) -> set[str]:
    """Every Ref and Fn::GetAtt target under a node (pseudo parameters included)."""
    if isinstance(node, dict):
        found = {node["Ref"]} if isinstance(node.get("Ref"), str) else set()
        if "Fn::GetAtt" in node:
            found.add(node["Fn::GetAtt"][0])
        return found.union(*(references(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(references(value) for value in node))
    return set()


def outside_references(resources: Resources, targets: set[str]) -> set[str]:
    """Resources of the template that the targets reference (Ref, GetAtt, DependsOn), beyond themselves."""
    found = set().union(*(references(resources[t]) | set(resources[t].get("DependsOn", [])) for t in targets))
    return (found - targets) & set(resources)


def test_every_resource_to_import_is_retained(adopted: Resources) -> None:
    """An import needs a DeletionPolicy on each resource; Retain keeps the adopted image and versions
    when the stack is deleted or a version replaced."""
    targets = {**of_type(adopted, IMAGE), **of_type(adopted, VERSION)}
    assert len(targets) == 3
    for logical_id, resource in targets.items():
        assert resource.get("DeletionPolicy") == "Retain", logical_id
        assert resource.get("UpdateReplacePolicy") == "Retain", logical_id


def test_without_the_removal_policy_nothing_is_retained() -> None:
    """The check above can fail: the same block without removal_policy renders no policy at all."""
    assert example().count(RETAIN) == 2
    resources = synthesize(example().replace(RETAIN, ""))
    assert len(resources) == 3
    assert not [r for r in resources.values() if "DeletionPolicy" in r or "UpdateReplacePolicy" in r]


def test_the_identifying_properties_are_literal_and_create_only(adopted: Resources) -> None:
    """What names the existing image and versions is a literal in the template, and AWS's schema makes
    it create-only: it must equal the existing resource's, and changing it later replaces it."""
    assert "/properties/ImageName" in schema(IMAGE)["createOnlyProperties"]
    assert {"/properties/ImageName", "/properties/BaseImage"} <= set(schema(VERSION)["createOnlyProperties"])

    ((_, image),) = of_type(adopted, IMAGE).items()
    assert image["Properties"]["ImageName"] == "legacy-trainer"
    assert not references(image["Properties"]), "the image's current role is a literal ARN"
    versions = of_type(adopted, VERSION)
    bases = []
    for logical_id in version_order(adopted):
        properties = versions[logical_id]["Properties"]
        assert properties["ImageName"] == "legacy-trainer", logical_id
        assert isinstance(properties["BaseImage"], str), logical_id
        bases.append(properties["BaseImage"])
    assert bases == [f"{REGISTRY}:1.0", f"{REGISTRY}:1.1"], "version 1, then version 2"


def test_the_import_creates_nothing(adopted: Resources) -> None:
    """`cdk import` adds only the imported resources to the deployed template: they may reference one
    another, and nothing else. In the README's form the stack holds exactly them."""
    assert {r["Type"] for r in adopted.values()} == {IMAGE, VERSION}
    assert not outside_references(adopted, set(adopted))


def test_without_the_opt_out_the_base_image_check_would_be_created() -> None:
    """The check above can fail: the same block with the base image check on (the default) makes each
    version wait for a new Custom::SageMakerBaseImageCheck, with its function, role and log group."""
    opt_out = "check_base_image=False,"
    assert example().count(opt_out) == 1
    resources = synthesize(example().replace(opt_out, ""))
    versions = set(of_type(resources, VERSION))
    new = outside_references(resources, set(of_type(resources, IMAGE)) | versions)
    assert {resources[logical_id]["Type"] for logical_id in new} == {"Custom::SageMakerBaseImageCheck"}


def test_the_default_form_would_not_import() -> None:
    """The check above can fail: with a generated role, floating aliases and the base image check (on
    by default), the image and versions reference resources that an import cannot create."""
    stack = cdk.Stack(cdk.App(), "Adopted", env=ENV)
    image = Image(stack, "Legacy", image_name="legacy-trainer", removal_policy=cdk.RemovalPolicy.RETAIN)
    for number, tag in [(1, "1.0"), (2, "1.1")]:
        image.add_version(
            f"V{number}",
            base_image=BaseImage.from_uri(f"{REGISTRY}:{tag}"),
            aliases=[f"latest-{number}"],
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
    resources: Resources = Template.from_stack(stack).to_json()["Resources"]
    targets = set(of_type(resources, IMAGE)) | set(of_type(resources, VERSION))
    types = {resources[logical_id]["Type"] for logical_id in outside_references(resources, targets)}
    assert types == {
        "AWS::IAM::Role",
        "AWS::IAM::Policy",
        "Custom::SageMakerImageVersionAliases",
        "Custom::SageMakerBaseImageCheck",
    }


@pytest.mark.parametrize("type_", [IMAGE, VERSION, CONFIG])
def test_the_schema_can_read_the_existing_resource(type_: str) -> None:
    """An import reads the existing resource through the type's handlers."""
    assert {"read", "list"} <= set(schema(type_)["handlers"])


def test_the_readme_names_the_schemas_identifiers(adopted: Resources) -> None:
    """The README's table gives each type's primaryIdentifier; its mapping file keys each resource of
    the example by its logical id and the primary identifier, versions numbered along the chain."""
    for type_ in (IMAGE, VERSION, CONFIG):
        (primary,) = schema(type_)["primaryIdentifier"]
        (row,) = [line for line in section().splitlines() if line.startswith(f"| `{type_}` |")]
        assert row.split("|")[2].strip().startswith(f"`{prop(primary)}`"), (type_, row)
    # Read-only, so absent from a template: why automatic import cannot find them.
    for type_ in (IMAGE, VERSION):
        assert schema(type_)["primaryIdentifier"][0] in schema(type_)["readOnlyProperties"]
    assert schema(IMAGE)["additionalIdentifiers"] == [["/properties/ImageName"]]

    given = mapping()
    (image_id,) = of_type(adopted, IMAGE)
    image_key = prop(schema(IMAGE)["primaryIdentifier"][0])
    version_key = prop(schema(VERSION)["primaryIdentifier"][0])
    assert set(given) == set(adopted)
    assert given[image_id] == {image_key: "arn:aws:sagemaker:eu-west-1:111122223333:image/legacy-trainer"}
    for number, logical_id in enumerate(version_order(adopted), start=1):
        arn = f"arn:aws:sagemaker:eu-west-1:111122223333:image-version/legacy-trainer/{number}"
        assert given[logical_id] == {version_key: arn}
