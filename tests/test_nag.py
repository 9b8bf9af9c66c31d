"""cdk-nag AwsSolutions over a stack with an Image and versions of every base-image kind."""

from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_iam as iam
from cdk_nag import AwsSolutionsChecks

from constructs_lib import BaseImage, Image, ImageVersion, aliases


def nagged_app(tmp_path: Path) -> cdk.App:
    app = cdk.App(outdir=str(tmp_path / "cdk.out"))
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


def nag_report(tmp_path: Path) -> dict:  # type: ignore[type-arg]
    report = json.loads((tmp_path / "cdk.out" / "validation-report.json").read_text())
    (plugin,) = [p for p in report["pluginReports"] if p["pluginName"] == "AwsSolutions"]
    return plugin  # type: ignore[no-any-return]


def findings(report: dict, kind: str) -> list[tuple[str, str]]:  # type: ignore[type-arg]
    return sorted(
        (finding["ruleName"], construct["constructPath"])
        for finding in report.get(kind, [])
        for construct in finding["violatingConstructs"]
    )


def test_every_base_image_kind_passes_aws_solutions(tmp_path: Path) -> None:
    app = nagged_app(tmp_path)
    stack = cdk.Stack(app, "Stack")
    context = tmp_path / "docker"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM public.ecr.aws/docker/library/python:3.11-slim\n")
    repository = ecr.Repository(stack, "Repo", image_scan_on_push=True)
    image = Image(stack, "Image", image_name="nagged")
    image.add_version("Dlc", base_image=BaseImage.from_deep_learning_container("pytorch-training", "2.1"))
    image.add_version("Repo", base_image=BaseImage.from_ecr_repository(repository, "1.0"))
    image.add_version(
        "Uri", base_image=BaseImage.from_uri("111122223333.dkr.ecr.us-east-1.amazonaws.com/b:1")
    )
    image.add_version("Token", base_image=BaseImage.from_uri(cdk.CfnParameter(stack, "Uri").value_as_string))
    image.add_version("Asset", base_image=BaseImage.from_asset(str(context)))
    app.synth()  # raises on any unacknowledged finding
    report = nag_report(tmp_path)
    assert report["conclusion"] == "success"
    assert findings(report, "violations") == []
    # The one acknowledged finding is the one AWS offers nothing narrower for, on its own policy.
    assert findings(report, "suppressedViolations") == [
        ("AwsSolutions-IAM5[Resource::*]", "Stack/Image/EcrAuthorizationPolicy/Resource")
    ]
    (suppressed,) = report["suppressedViolations"]
    assert "ecr:GetAuthorizationToken" in suppressed["reason"]


def test_the_oracle_flags_a_wildcard_it_was_not_told_about(tmp_path: Path) -> None:
    app = nagged_app(tmp_path)
    stack = cdk.Stack(app, "Stack")
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    role.add_to_policy(iam.PolicyStatement(actions=["ecr:BatchGetImage"], resources=["*"]))
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    assert findings(nag_report(tmp_path), "violations") == [
        ("AwsSolutions-IAM5[Resource::*]", "Stack/Role/DefaultPolicy/Resource")
    ]


def test_the_acknowledgment_covers_only_the_authorization_policy(tmp_path: Path) -> None:
    """A wildcard the user adds to the generated role is still reported."""
    app = nagged_app(tmp_path)
    stack = cdk.Stack(app, "Stack")
    image = Image(stack, "Image", image_name="nagged")
    image.role.add_to_principal_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=["*"]))
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = nag_report(tmp_path)
    assert findings(report, "violations") == [
        ("AwsSolutions-IAM5[Resource::*]", "Stack/Image/Role/DefaultPolicy/Resource")
    ]
    assert findings(report, "suppressedViolations") == [
        ("AwsSolutions-IAM5[Resource::*]", "Stack/Image/EcrAuthorizationPolicy/Resource")
    ]


def version_wildcard(stack: cdk.Stack, image_name: str) -> str:
    """How cdk-nag names the image-version wildcard of one image in a finding."""
    return f"arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:image-version/{image_name}/*"


def test_floating_aliases_raise_exactly_the_acknowledged_findings_on_the_function_policy(
    tmp_path: Path,
) -> None:
    app = nagged_app(tmp_path)
    stack = cdk.Stack(app, "Stack")
    for name in ("alpha", "beta"):
        Image(stack, name, image_name=name).add_version(
            "V1",
            base_image=BaseImage.from_deep_learning_container("pytorch-training", "2.1"),
            aliases=["latest"],
        )
    app.synth()
    report = nag_report(tmp_path)
    assert findings(report, "violations") == []
    policy = f"Stack/{aliases.PROVIDER_ID}/Role/DefaultPolicy/Resource"
    assert findings(report, "suppressedViolations") == sorted(
        [
            ("AwsSolutions-IAM5[Resource::*]", "Stack/alpha/EcrAuthorizationPolicy/Resource"),
            ("AwsSolutions-IAM5[Resource::*]", "Stack/beta/EcrAuthorizationPolicy/Resource"),
            (f"AwsSolutions-IAM5[Resource::{version_wildcard(stack, 'alpha')}]", policy),
            (f"AwsSolutions-IAM5[Resource::{version_wildcard(stack, 'beta')}]", policy),
        ]
    )


def test_acknowledgements_follow_the_wildcards_into_overflow_policies(tmp_path: Path) -> None:
    """Past IAM's inline limit, aws-cdk-lib moves statements into OverflowPolicy resources."""
    app = nagged_app(tmp_path)
    stack = cdk.Stack(app, "Stack")
    names = [f"image-{index:02d}".ljust(63, "x") for index in range(60)]
    for index, name in enumerate(names):
        ImageVersion(
            stack,
            f"V{index}",
            image=Image.from_image_name(stack, f"I{index}", name),
            base_image=BaseImage.from_uri("public.ecr.aws/docker/library/python:3.11"),
            aliases=["latest"],
        )
    app.synth()
    report = nag_report(tmp_path)
    assert findings(report, "violations") == []
    suppressed = findings(report, "suppressedViolations")
    assert sorted(rule for rule, _ in suppressed) == sorted(
        f"AwsSolutions-IAM5[Resource::{version_wildcard(stack, name)}]" for name in names
    )
    holders = {path for _, path in suppressed}
    role = f"Stack/{aliases.PROVIDER_ID}/Role"
    assert f"{role}/DefaultPolicy/Resource" in holders and f"{role}/OverflowPolicy1/Resource" in holders
    assert holders <= {f"{role}/DefaultPolicy/Resource"} | {
        f"{role}/OverflowPolicy{i}/Resource" for i in range(1, 4)
    }
    # Each finding is acknowledged on the very policy that holds it, not on the role above it.
    for violation in report["suppressedViolations"]:
        (construct,) = violation["violatingConstructs"]
        assert violation["acknowledgedAt"] == construct["constructPath"].removesuffix("/Resource")


def test_a_users_own_wildcard_on_the_same_arn_elsewhere_is_still_reported(tmp_path: Path) -> None:
    app = nagged_app(tmp_path)
    stack = cdk.Stack(app, "Stack")
    Image(stack, "Image", image_name="alpha").add_version(
        "V1", base_image=BaseImage.from_deep_learning_container("pytorch-training", "2.1"), aliases=["latest"]
    )
    role = iam.Role(stack, "Mine", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    arn = stack.format_arn(service="sagemaker", resource="image-version", resource_name="alpha/*")
    iam.Policy(
        stack,
        "MyPolicy",
        roles=[role],
        statements=[iam.PolicyStatement(actions=["sagemaker:ListAliases"], resources=[arn])],
    )
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    assert findings(nag_report(tmp_path), "violations") == [
        (f"AwsSolutions-IAM5[Resource::{version_wildcard(stack, 'alpha')}]", "Stack/MyPolicy/Resource")
    ]


def test_grant_pull_to_an_image_is_reported_but_a_scoped_grant_is_not(tmp_path: Path) -> None:
    """repository.grant_pull adds its own "*" for registry logins; the image already has one."""
    app = nagged_app(tmp_path)
    stack = cdk.Stack(app, "Stack")
    image = Image(stack, "Image", image_name="alpha")
    repository = ecr.Repository(stack, "Repo", image_scan_on_push=True)
    repository.grant(
        image, "ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"
    )
    app.synth()
    assert findings(nag_report(tmp_path), "violations") == []

    app = nagged_app(tmp_path / "pull")
    stack = cdk.Stack(app, "Stack")
    image = Image(stack, "Image", image_name="alpha")
    ecr.Repository(stack, "Repo", image_scan_on_push=True).grant_pull(image)
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    assert findings(nag_report(tmp_path / "pull"), "violations") == [
        ("AwsSolutions-IAM5[Resource::*]", "Stack/Image/Role/DefaultPolicy/Resource")
    ]


def test_a_given_mutable_role_keeps_the_wildcard_out_of_the_users_policy(tmp_path: Path) -> None:
    app = nagged_app(tmp_path)
    stack = cdk.Stack(app, "Stack")
    role = iam.Role(stack, "Mine", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    image = Image(stack, "Image", image_name="alpha", role=role)
    image.add_version("V1", base_image=BaseImage.from_deep_learning_container("pytorch-training", "2.1"))
    app.synth()
    report = nag_report(tmp_path)
    assert findings(report, "violations") == []
    assert findings(report, "suppressedViolations") == [
        ("AwsSolutions-IAM5[Resource::*]", "Stack/Image/EcrAuthorizationPolicy/Resource")
    ]
