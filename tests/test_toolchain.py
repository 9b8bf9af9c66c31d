"""The toolchain the README promises: the pinned CDK CLI and jsii run on the venv's Node 24."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
VENV_NODE = Path(sys.prefix) / "node" / "bin" / "node"
CLI = ROOT / "node_modules" / "aws-cdk" / "bin" / "cdk"
BANNER = "end-of-life"  # what jsii prints, framed in '!!', when it runs on an unsupported Node


def toolchain_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JSII_SILENCE")}
    env["PATH"] = f"{VENV_NODE.parent}{os.pathsep}{Path(sys.prefix) / 'bin'}{os.pathsep}{env['PATH']}"
    env["JSII_NODE"] = str(VENV_NODE)
    return env


def test_jsii_runs_on_node_24_without_the_end_of_life_banner() -> None:
    version = subprocess.run([str(VENV_NODE), "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.startswith("v24.")
    result = subprocess.run(
        [sys.executable, "-c", "import aws_cdk; aws_cdk.App()"],
        env=toolchain_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert BANNER not in result.stderr + result.stdout


@pytest.mark.skipif(not CLI.exists(), reason="node_modules not installed (make test installs it)")
def test_pinned_cli_synthesizes_the_app_offline(tmp_path: Path) -> None:
    pinned = json.loads((ROOT / "package.json").read_text())["devDependencies"]["aws-cdk"]
    installed = json.loads((ROOT / "node_modules" / "aws-cdk" / "package.json").read_text())["version"]
    assert installed == pinned
    env = toolchain_env()
    env.pop("CDK_DEFAULT_REGION", None)
    result = subprocess.run(
        [str(VENV_NODE), str(CLI), "synth", "--no-notices", "--quiet", "--output", str(tmp_path / "out")],
        cwd=ROOT,
        env={**env, "CDK_DISABLE_CLI_TELEMETRY": "true"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert BANNER not in result.stderr + result.stdout
    template = json.loads((tmp_path / "out" / "SageMakerImageStack.template.json").read_text())
    types = {resource["Type"] for resource in template["Resources"].values()}
    assert {
        "AWS::SageMaker::Image",
        "AWS::SageMaker::ImageVersion",
        "Custom::SageMakerImageVersionAliases",
    } <= types
