"""The reference app: what it synthesizes, and cfn-lint (AWS's resource schemas) finds no error in it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import aws_cdk as cdk
import pytest
from cfnlint.api import ManualArgs, lint

import app as reference_app


def synth(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, region: str | None, domain: str | None = None
) -> dict:  # type: ignore[type-arg]
    monkeypatch.delenv("CDK_DEFAULT_ACCOUNT", raising=False)
    if region:
        monkeypatch.setenv("CDK_DEFAULT_REGION", region)
    else:
        monkeypatch.delenv("CDK_DEFAULT_REGION", raising=False)
    context = {"studio_domain_id": domain} if domain else {}
    assembly = reference_app.build_app(cdk.App(outdir=str(tmp_path), context=context)).synth()
    return assembly.get_stack_by_name("SageMakerImageStack").template  # type: ignore[no-any-return]


def errors(template: dict, region: str) -> list[str]:  # type: ignore[type-arg]
    matches = lint(json.dumps(template), config=ManualArgs(regions=[region]))
    return [f"{m.rule.id} {m.message}" for m in matches if m.rule.id.startswith("E")]


def resources(template: dict, type_: str) -> Iterator[dict]:  # type: ignore[type-arg]
    return (r for r in template["Resources"].values() if r["Type"] == type_)


@pytest.mark.parametrize(
    ("region", "domain"),
    [(None, None), ("us-east-1", None), ("af-south-1", None), ("cn-north-1", None), (None, "d-abc123")],
)
def test_app_template_passes_cfn_lint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, region: str | None, domain: str | None
) -> None:
    template = synth(tmp_path, monkeypatch, region, domain)
    assert errors(template, region or "us-east-1") == []


def test_cfn_lint_is_a_live_oracle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same check fails a template carrying a value the library would have refused."""
    template = synth(tmp_path, monkeypatch, None)
    (version,) = resources(template, "AWS::SageMaker::ImageVersion")
    version["Properties"]["MLFramework"] = "PyTorch-1.8"
    assert any(e.startswith("E3031") for e in errors(template, "us-east-1"))


def test_app_rebuilds_the_terraform_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    template = synth(tmp_path, monkeypatch, None)
    (image,) = resources(template, "AWS::SageMaker::Image")
    assert image["Properties"]["ImageName"] == "example-sagemaker-image"
    (version,) = resources(template, "AWS::SageMaker::ImageVersion")
    properties = dict(version["Properties"])
    base_image = properties.pop("BaseImage")
    assert properties == {
        "ImageName": "example-sagemaker-image",
        "Alias": "v1",
        "Horovod": True,
        "JobType": "TRAINING",
        "MLFramework": "PyTorch1.8",
        "Processor": "GPU",
        "ProgrammingLang": "Python3.6",
        "ReleaseNotes": "PyTorch 1.8.1 training image version",
        "VendorGuidance": "STABLE",
    }
    assert base_image["Fn::Join"][1][-1] == "/pytorch-training:1.8.1-gpu-py36-cu111-ubuntu18.04"
    assert "SageMakerDeepLearningContainerRegistries" in template["Mappings"]  # region-agnostic


def test_app_follows_cdk_default_region(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    template = synth(tmp_path, monkeypatch, "eu-south-1")
    (version,) = resources(template, "AWS::SageMaker::ImageVersion")
    assert version["Properties"]["BaseImage"].startswith("692866216735.dkr.ecr.eu-south-1.amazonaws.com/")
    assert "Mappings" not in template


def test_app_has_a_jupyterlab_config_and_attaches_nothing_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    template = synth(tmp_path, monkeypatch, None)
    (config,) = resources(template, "AWS::SageMaker::AppImageConfig")
    assert config["Properties"]["JupyterLabAppImageConfig"]["ContainerConfig"] == {
        "ContainerEnvironmentVariables": [{"Key": "TEAM", "Value": "ml-platform"}]
    }
    assert list(resources(template, "Custom::SageMakerStudioCustomImages")) == []
    # The aliases' function and the base image check's (on by default), which lists the one version.
    assert len(list(resources(template, "AWS::Lambda::Function"))) == 2
    ((check_id, check),) = [
        (k, v) for k, v in template["Resources"].items() if v["Type"] == "Custom::SageMakerBaseImageCheck"
    ]
    (image,) = check["Properties"]["Images"]
    assert image["ImageUri"]["Fn::Join"][1][-1] == "/pytorch-training:1.8.1-gpu-py36-cu111-ubuntu18.04"
    (version,) = resources(template, "AWS::SageMaker::ImageVersion")
    assert check_id in version["DependsOn"]


def test_app_attaches_the_version_to_a_domain_given_as_context(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    template = synth(tmp_path, monkeypatch, None, "d-abc123")
    (attachment,) = resources(template, "Custom::SageMakerStudioCustomImages")
    properties = attachment["Properties"]
    (entry,) = properties["CustomImages"]
    (config_id,) = [
        k for k, v in template["Resources"].items() if v["Type"] == "AWS::SageMaker::AppImageConfig"
    ]
    (version_id,) = [
        k for k, v in template["Resources"].items() if v["Type"] == "AWS::SageMaker::ImageVersion"
    ]
    assert properties["DomainId"] == "d-abc123"
    assert entry == {
        "Settings": "DefaultUserSettings",
        "AppType": "JupyterLab",
        "ImageName": "example-sagemaker-image",
        "AppImageConfigName": {"Ref": config_id},
        "ImageVersionNumber": {"Fn::GetAtt": [version_id, "Version"]},
    }
    assert version_id in attachment["DependsOn"]


@pytest.mark.parametrize(
    "app",
    ["app.py", "bench/app_library_studio.py"],  # the second: every construct, 28 Studio attachments
)
def test_no_deprecated_aws_cdk_lib_api_is_called(tmp_path: Path, app: str) -> None:
    """A user's synth prints no deprecation warning of ours: jsii's JSII_DEPRECATED=fail turns every
    call of a deprecated aws-cdk-lib API (CfnResource.add_dependency, say) into an error."""
    root = Path(__file__).resolve().parents[1]
    env = {
        **os.environ,
        "JSII_DEPRECATED": "fail",
        "CDK_OUTDIR": str(tmp_path),
        "CDK_CONTEXT_JSON": json.dumps({"studio_domain_id": "d-abc123"}),
        "PYTHONPATH": os.pathsep.join([str(root), str(root / "bench")]),
    }
    result = subprocess.run(
        [sys.executable, str(root / app)], env=env, cwd=root, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "deprecated" not in result.stderr
    assert list(tmp_path.glob("*.template.json"))  # it synthesized
