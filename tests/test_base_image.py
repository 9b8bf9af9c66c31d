"""Base images: the URI each kind renders and the repository the image's role may pull from."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk.assertions import Template
from check_resources import without_check

from constructs_lib import BaseImage, Image, ValidationError
from constructs_lib.dlc_registries import DNS_SUFFIXES, REGISTRY_ACCOUNTS

SHIPPED_TABLE = Path(__file__).resolve().parent / "data" / "dlc-registries.json"
SHARED_TABLE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "dlc-registries.json"
PARTITION = {"Ref": "AWS::Partition"}


def render(stack: cdk.Stack, base_image: BaseImage) -> tuple[Any, list[Any]]:
    """The version's BaseImage and the pull resources of the image's role (not the base image check's
    reads, tested in test_base_image_check)."""
    image = Image(stack, "Image", image_name="img")
    image.add_version("V1", base_image=base_image)
    template = Template.from_stack(stack).to_json()
    (version,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::SageMaker::ImageVersion"]
    pulls = [
        statement["Resource"]
        for resource in without_check(template["Resources"]).values()
        if resource["Type"] == "AWS::IAM::Policy"
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
        if statement["Action"] != "ecr:GetAuthorizationToken"
    ]
    return version["Properties"]["BaseImage"], pulls


def test_dlc_in_af_south_1_uses_that_regions_registry(stack_in: Callable[[str], cdk.Stack]) -> None:
    uri, pulls = render(
        stack_in("af-south-1"), BaseImage.from_deep_learning_container("pytorch-training", "2.1")
    )
    assert uri == "626614931356.dkr.ecr.af-south-1.amazonaws.com/pytorch-training:2.1"
    assert pulls == [
        {"Fn::Join": ["", ["arn:", PARTITION, ":ecr:af-south-1:626614931356:repository/pytorch-training"]]}
    ]


def test_dlc_in_cn_north_1_uses_the_china_suffix_and_partition(stack_in: Callable[[str], cdk.Stack]) -> None:
    stack = stack_in("cn-north-1")
    uri, pulls = render(stack, BaseImage.from_deep_learning_container("pytorch-inference", "2.1"))
    assert uri == "727897471807.dkr.ecr.cn-north-1.amazonaws.com.cn/pytorch-inference:2.1"
    assert pulls == [
        {"Fn::Join": ["", ["arn:", PARTITION, ":ecr:cn-north-1:727897471807:repository/pytorch-inference"]]}
    ]


def test_dlc_in_a_region_agnostic_stack_resolves_through_a_mapping(stack: cdk.Stack) -> None:
    uri, pulls = render(stack, BaseImage.from_deep_learning_container("pytorch-training", "2.1"))
    find = {"Fn::FindInMap": ["SageMakerDeepLearningContainerRegistries", {"Ref": "AWS::Region"}, "account"]}
    assert uri == {
        "Fn::Join": [
            "",
            [
                find,
                ".dkr.ecr.",
                {"Ref": "AWS::Region"},
                ".",
                {"Ref": "AWS::URLSuffix"},
                "/pytorch-training:2.1",
            ],
        ]
    }
    assert pulls == [
        {
            "Fn::Join": [
                "",
                [
                    "arn:",
                    PARTITION,
                    ":ecr:",
                    {"Ref": "AWS::Region"},
                    ":",
                    find,
                    ":repository/pytorch-training",
                ],
            ]
        }
    ]
    mapping = Template.from_stack(stack).to_json()["Mappings"]["SageMakerDeepLearningContainerRegistries"]
    assert mapping == {region: {"account": account} for region, account in REGISTRY_ACCOUNTS.items()}


def test_one_mapping_serves_every_dlc_version_of_a_stack(stack: cdk.Stack) -> None:
    image = Image(stack, "Image", image_name="img")
    image.add_version("V1", base_image=BaseImage.from_deep_learning_container("pytorch-training", "2.1"))
    image.add_version("V2", base_image=BaseImage.from_deep_learning_container("tensorflow-training", "2.14"))
    assert list(Template.from_stack(stack).to_json()["Mappings"]) == [
        "SageMakerDeepLearningContainerRegistries"
    ]


def test_dlc_in_an_unknown_region_is_a_synth_time_error(stack_in: Callable[[str], cdk.Stack]) -> None:
    with pytest.raises(ValidationError, match=r"region 'xx-nowhere-1'.*BaseImage\.from_uri"):
        render(stack_in("xx-nowhere-1"), BaseImage.from_deep_learning_container("pytorch-training", "2.1"))


def test_dlc_in_an_isolated_region_takes_the_suffix_from_the_stack(
    stack_in: Callable[[str], cdk.Stack],
) -> None:
    uri, _ = render(
        stack_in("us-iso-east-1"), BaseImage.from_deep_learning_container("pytorch-training", "2.1")
    )
    assert uri == {
        "Fn::Join": [
            "",
            ["886529160074.dkr.ecr.us-iso-east-1.", {"Ref": "AWS::URLSuffix"}, "/pytorch-training:2.1"],
        ]
    }


def test_registry_table_matches_the_reference_shipped_with_the_tests() -> None:
    """tests/data holds a copy of shared/reference/dlc-registries.json, so this runs on every clone."""
    reference = json.loads(SHIPPED_TABLE.read_text())
    assert reference["registries"] == REGISTRY_ACCOUNTS
    assert reference["dns_suffix_exceptions"] == DNS_SUFFIXES


@pytest.mark.skipif(not SHARED_TABLE.exists(), reason="shared/ is not beside this checkout")
def test_the_shipped_reference_is_the_shared_one() -> None:
    assert json.loads(SHIPPED_TABLE.read_text()) == json.loads(SHARED_TABLE.read_text())


@pytest.mark.parametrize(
    ("region", "account", "host_suffix"),
    [
        ("ap-east-1", "871362719292", "amazonaws.com"),
        ("eu-south-1", "692866216735", "amazonaws.com"),
        ("me-central-1", "914824155844", "amazonaws.com"),
        ("us-gov-west-1", "442386744353", "amazonaws.com"),
        ("cn-northwest-1", "727897471807", "amazonaws.com.cn"),
        ("us-east-1", "763104351884", "amazonaws.com"),
    ],
)
def test_dlc_registry_per_region_where_accounts_differ(
    stack_in: Callable[[str], cdk.Stack], region: str, account: str, host_suffix: str
) -> None:
    uri, pulls = render(stack_in(region), BaseImage.from_deep_learning_container("pytorch-training", "2.1"))
    assert uri == f"{account}.dkr.ecr.{region}.{host_suffix}/pytorch-training:2.1"
    assert pulls == [
        {"Fn::Join": ["", ["arn:", PARTITION, f":ecr:{region}:{account}:repository/pytorch-training"]]}
    ]


@pytest.mark.parametrize(
    "name",
    [
        "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training",
        "763104351884.dkr.ecr-fips.us-east-1.amazonaws.com/pytorch-training",
        "727897471807.dkr.ecr.cn-north-1.amazonaws.com.cn/pytorch-training",
        "public.ecr.aws/pytorch-training",
    ],
)
def test_dlc_refuses_a_repository_name_with_a_registry_host(name: str) -> None:
    with pytest.raises(ValidationError) as error:
        BaseImage.from_deep_learning_container(name, "2.1")
    message = str(error.value)
    assert f"repository_name {name!r}" in message and "BaseImage.from_uri" in message


def test_dlc_accepts_a_nested_repository_name(stack_in: Callable[[str], cdk.Stack]) -> None:
    uri, _ = render(stack_in("us-east-1"), BaseImage.from_deep_learning_container("team.ml/trainer", "1"))
    assert uri == "763104351884.dkr.ecr.us-east-1.amazonaws.com/team.ml/trainer:1"


def test_fips_ecr_uri_grants_its_repository(stack: cdk.Stack) -> None:
    given = "444455556666.dkr.ecr-fips.us-gov-west-1.amazonaws.com/team/trainer:1.0"
    uri, pulls = render(stack, BaseImage.from_uri(given))
    assert uri == given
    assert pulls == [
        {"Fn::Join": ["", ["arn:", PARTITION, ":ecr:us-gov-west-1:444455556666:repository/team/trainer"]]}
    ]


def test_literal_ecr_uri_grants_its_repository(stack: cdk.Stack) -> None:
    given = "444455556666.dkr.ecr.eu-central-1.amazonaws.com/team/trainer@sha256:" + "ab" * 32
    uri, pulls = render(stack, BaseImage.from_uri(given))
    assert uri == given
    assert pulls == [
        {"Fn::Join": ["", ["arn:", PARTITION, ":ecr:eu-central-1:444455556666:repository/team/trainer"]]}
    ]


def test_non_ecr_uri_is_passed_through_with_no_grant(stack: cdk.Stack) -> None:
    uri, pulls = render(stack, BaseImage.from_uri("public.example.com/library/python:3.11"))
    assert uri == "public.example.com/library/python:3.11"
    assert pulls == []


def test_token_uri_is_passed_through_with_no_grant(stack: cdk.Stack) -> None:
    parameter = cdk.CfnParameter(stack, "BaseImageUri").value_as_string
    uri, pulls = render(stack, BaseImage.from_uri(parameter))
    assert uri == {"Ref": "BaseImageUri"}
    assert pulls == []


def test_ecr_repository_of_the_app(stack: cdk.Stack) -> None:
    repository = ecr.Repository(stack, "Repo")
    uri, pulls = render(stack, BaseImage.from_ecr_repository(repository))
    repo_id = stack.get_logical_id(repository.node.default_child)  # type: ignore[arg-type]
    assert stack.resolve(repository.repository_uri_for_tag("latest")) == uri
    assert uri["Fn::Join"][1][-1].endswith(":latest")  # the default tag
    assert pulls == [{"Fn::GetAtt": [repo_id, "Arn"]}]


def test_ecr_repository_with_a_digest(stack: cdk.Stack) -> None:
    repository = ecr.Repository(stack, "Repo")
    digest = "sha256:" + "0f" * 32
    uri, _ = render(stack, BaseImage.from_ecr_repository(repository, digest))
    assert uri["Fn::Join"][1][-1].endswith("@" + digest)


@pytest.mark.parametrize("platform", [None, "linux/arm64"], ids=["default", "given"])
def test_an_asset_is_built_for_linux_amd64_unless_told_otherwise(
    stack: cdk.Stack, app: cdk.App, tmp_path: Path, platform: str | None
) -> None:
    """Studio runs amd64 images; the cloud assembly's docker image source says what cdk deploy builds."""
    context = tmp_path / "docker"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM public.ecr.aws/docker/library/python:3.11-slim\n")
    options = {} if platform is None else {"platform": ecr_assets.Platform.custom(platform)}
    render(stack, BaseImage.from_asset(str(context), **options))
    manifest = json.loads(Path(app.synth().directory, "Stack.assets.json").read_text())
    (asset,) = manifest["dockerImages"].values()
    assert asset["source"]["platform"] == (platform or "linux/amd64")


def test_asset_is_fingerprinted_without_docker_and_grants_the_asset_repository(
    stack: cdk.Stack, app: cdk.App, tmp_path: Path
) -> None:
    context = tmp_path / "docker"  # beside, not around, the app's outdir
    context.mkdir()
    (context / "Dockerfile").write_text("FROM public.ecr.aws/docker/library/python:3.11-slim\n")
    uri, pulls = render(stack, BaseImage.from_asset(str(context), build_args={"FLAVOUR": "gpu"}))
    assembly = app.synth()
    manifest = json.loads(Path(assembly.directory, "Stack.assets.json").read_text())
    (asset,) = manifest["dockerImages"].values()
    assert asset["source"]["dockerBuildArgs"] == {"FLAVOUR": "gpu"}
    (destination,) = asset["destinations"].values()
    joined = json.dumps(uri)
    assert destination["imageTag"] in joined
    assert "cdk-hnb659fds-container-assets" in joined
    assert len(pulls) == 1
    assert "cdk-hnb659fds-container-assets" in json.dumps(pulls[0])
