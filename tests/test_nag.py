"""cdk-nag AwsSolutions over a stack with an Image and versions of every base-image kind."""

from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_iam as iam
from cdk_nag import AwsSolutionsChecks

from constructs_lib import BaseImage, Image


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
