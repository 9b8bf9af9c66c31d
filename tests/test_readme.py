"""The README's diagram parses with mermaid (what GitHub renders it with), and its Python examples run."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
NODE = Path(sys.prefix) / "node" / "bin" / "node"
PARSER = ROOT / "tests" / "tools" / "mermaid_parse.mjs"
needs_mermaid = pytest.mark.skipif(
    not (ROOT / "node_modules" / "mermaid").exists(),
    reason="node_modules not installed (make test installs it)",
)


def parse(tmp_path: Path, diagrams: list[str]) -> subprocess.CompletedProcess[str]:
    files = []
    for n, diagram in enumerate(diagrams):
        files.append(tmp_path / f"diagram{n}.mmd")
        files[-1].write_text(diagram)
    return subprocess.run(
        [str(NODE), str(PARSER), *map(str, files)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


@needs_mermaid
def test_readme_diagram_parses(tmp_path: Path) -> None:
    diagrams = re.findall(r"```mermaid\n(.*?)```", README, re.S)
    assert diagrams, "the README has a Mermaid diagram of what one Image with two versions synthesizes"
    result = parse(tmp_path, diagrams)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "flowchart" in result.stdout


@needs_mermaid
def test_the_parser_rejects_a_broken_diagram(tmp_path: Path) -> None:
    result = parse(tmp_path, ["flowchart LR\n  A -->|unclosed B\n"])
    assert result.returncode == 1


PYTHON_BLOCK = re.compile(r"```python\n(.*?)```", re.S)


def python_blocks(markdown: str) -> list[str]:
    return PYTHON_BLOCK.findall(markdown)


def as_pasted(blocks: list[str]) -> str:
    """The blocks one after the other, as a user pastes them into one file, then a synth."""
    return "\n".join(f"# --- README block {n + 1}\n{block}" for n, block in enumerate(blocks)) + (
        "\nstack.node.root.synth()\n"
    )


def undefined_names(tmp_path: Path, source: str) -> subprocess.CompletedProcess[str]:
    """pyflakes' undefined-name rule (ruff F821), which also sees names no line executed uses."""
    script = tmp_path / "check.py"
    script.write_text(source)
    return subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--isolated", "--no-cache", "--select", "F821", str(script)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def run(tmp_path: Path, source: str) -> subprocess.CompletedProcess[str]:
    """A fresh Python process, in a folder with what the README assumes the user has (a Dockerfile)."""
    docker = tmp_path / "docker" / "trainer"
    docker.mkdir(parents=True, exist_ok=True)
    (docker / "Dockerfile").write_text("FROM public.ecr.aws/docker/library/python:3.11\n")
    script = tmp_path / "readme.py"
    script.write_text(source)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CDK_OUTDIR": str(tmp_path / "out")}
    return subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )


def resources(tmp_path: Path, stack: str) -> dict[str, dict[str, Any]]:
    template = json.loads((tmp_path / "out" / f"{stack}.template.json").read_text())
    return template["Resources"]  # type: ignore[no-any-return]


def of_type(found: dict[str, dict[str, Any]], type_: str) -> list[dict[str, Any]]:
    return [resource for resource in found.values() if resource["Type"] == type_]


def test_every_python_block_runs_in_order_and_synthesizes(tmp_path: Path) -> None:
    """All ```python blocks, concatenated in README order, run in a fresh process and synthesize the
    resources they declare."""
    blocks = python_blocks(README)
    assert len(blocks) >= 7, "the README's Python examples"
    source = as_pasted(blocks)
    check = undefined_names(tmp_path, source)
    assert check.returncode == 0, check.stdout + check.stderr
    result = run(tmp_path, source)
    assert result.returncode == 0, result.stderr

    images = resources(tmp_path, "Images")
    assert len(of_type(images, "AWS::SageMaker::Image")) == 1
    # V1, V2 (quick start), FromRepo, FromUri, FromDockerfile (base images), Checked, FromVendor (the check)
    assert len(of_type(images, "AWS::SageMaker::ImageVersion")) == 7
    # One check lists every version's ECR base image but the opted-out one; the output shown is its GetAtt.
    ((check_id, check),) = [
        (k, r) for k, r in images.items() if r["Type"] == "Custom::SageMakerBaseImageCheck"
    ]
    listed = json.dumps(check["Properties"]["Images"])
    assert len(check["Properties"]["Images"]) == 6 and "vendor/base" not in listed
    template = json.loads((tmp_path / "out" / "Images.template.json").read_text())
    shown = re.search(r"^### The base image check\n.*?```json\n(.*?)```", README, re.S | re.M)
    assert shown, "the README shows the output's value"
    assert template["Outputs"]["CheckedBaseImageDigest"]["Value"] == json.loads(shown.group(1))
    assert json.loads(shown.group(1))["Fn::GetAtt"][0] == check_id
    (aliases,) = of_type(images, "Custom::SageMakerImageVersionAliases")
    assert aliases["Properties"]["Aliases"] == ["latest"]
    kinds = {key for c in of_type(images, "AWS::SageMaker::AppImageConfig") for key in c["Properties"]}
    assert kinds == {"AppImageConfigName", "JupyterLabAppImageConfig", "KernelGatewayImageConfig"}
    studio = {
        (r["Properties"]["DomainId"], r["Properties"].get("UserProfileName")): r["Properties"]["CustomImages"]
        for r in of_type(images, "Custom::SageMakerStudioCustomImages")
    }
    assert set(studio) == {("d-abc123", None), ("d-abc123", "alice")}
    (lab,) = studio[("d-abc123", None)]
    assert lab["ImageName"] == "team-trainer" and lab["AppType"] == "JupyterLab"
    assert "ImageVersionNumber" in lab, "pinned to v2"
    (domain,) = of_type(images, "AWS::SageMaker::Domain")
    merged = domain["Properties"]["DefaultUserSettings"]["JupyterLabAppSettings"]["CustomImages"]
    assert [entry["ImageName"] for entry in merged] == ["team-trainer"]
    assert len(of_type(images, "AWS::S3::Bucket")) == 1
    granted = json.dumps(of_type(images, "AWS::IAM::Policy"))
    assert "s3:GetObject*" in granted, "bucket.grant_read(image)"

    adopted = resources(tmp_path, "Adopted")
    assert sorted(r["Type"] for r in adopted.values()) == [
        "AWS::SageMaker::Image",
        "AWS::SageMaker::ImageVersion",
        "AWS::SageMaker::ImageVersion",
    ]
    assert {r["DeletionPolicy"] for r in adopted.values()} == {"Retain"}


def test_a_block_using_an_undefined_name_fails(tmp_path: Path) -> None:
    """The check above is not vacuous: a block that uses a name no earlier block defines fails both
    the static check and the run."""
    blocks = [*python_blocks(README)[:1], "undefined_bucket.grant_read(image)\n"]
    source = as_pasted(blocks)
    check = undefined_names(tmp_path, source)
    assert check.returncode == 1 and "undefined_bucket" in check.stdout
    result = run(tmp_path, source)
    assert result.returncode == 1
    assert "NameError: name 'undefined_bucket' is not defined" in result.stderr
