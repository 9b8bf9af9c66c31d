"""The built wheel, installed apart from the checkout, gives another CDK app a working library."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import constructs_lib
import constructs_lib.aliases
import constructs_lib.base_image_check

ROOT = Path(__file__).resolve().parents[1]

OUTSIDE_APP = """
import aws_cdk as cdk
import constructs_lib
from constructs_lib import BaseImage, Image

assert "{root}" not in constructs_lib.__file__, constructs_lib.__file__
app = cdk.App()
stack = cdk.Stack(app, "Outside")
image = Image(stack, "Image", image_name="outside")
image.add_version("V1", base_image=BaseImage.from_deep_learning_container("pytorch-training", "2.1"))
image.add_version("V2", base_image=BaseImage.from_deep_learning_container("pytorch-training", "2.2"),
                  aliases=["latest"])
app.synth()
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (built,) = out.glob("*.whl")
    return built


def test_wheel_carries_the_library_the_handler_and_py_typed_only(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "constructs_lib/py.typed" in names
    for handler in (
        "base_image_check/index.py",
        "image_version_aliases/index.py",
        "studio_custom_images/index.py",
        "shared/custom_resource.py",
    ):
        assert f"constructs_lib/lambda_handlers/{handler}" in names
    assert "constructs_lib/aliases.py" in names
    unwanted = [n for n in names if n.startswith(("tests/", "cdk.out/", "lambda/")) or "__pycache__" in n]
    assert unwanted == []
    assert not [n for n in names if n.endswith((".pyc", ".pyo"))]
    handler = zipfile.ZipFile(wheel).read("constructs_lib/lambda_handlers/image_version_aliases/index.py")
    assert handler == (ROOT / "lambda" / "image_version_aliases" / "index.py").read_bytes()


def test_wheel_declares_its_dependencies_and_version(wheel: Path) -> None:
    archive = zipfile.ZipFile(wheel)
    (metadata,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
    text = archive.read(metadata).decode()
    requires = {
        line.split(":", 1)[1].strip().split("<")[0].split(">")[0].split("=")[0]
        for line in text.splitlines()
        if line.startswith("Requires-Dist:")
    }
    assert {"aws-cdk-lib", "constructs", "crhelper"} <= requires
    assert f"Version: {constructs_lib.__version__}" in text


def synth_outside(wheel: Path, target: Path, workdir: Path, out: str) -> dict:  # type: ignore[type-arg]
    """Synthesize an app in a folder of its own, importing the library only from the installed wheel."""
    workdir.mkdir(exist_ok=True)
    (workdir / "app.py").write_text(OUTSIDE_APP.format(root=str(ROOT)))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "CDK_DEFAULT_REGION")}
    env["PYTHONPATH"] = str(target)
    env["CDK_OUTDIR"] = str(workdir / out)
    subprocess.run(
        [sys.executable, "app.py"], cwd=workdir, env=env, check=True, capture_output=True, timeout=300
    )
    template = json.loads((workdir / out / "Outside.template.json").read_text())
    return template  # type: ignore[no-any-return]


def test_outside_app_synthesizes_from_the_installed_wheel(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    workdir = tmp_path / "outside"
    first = synth_outside(wheel, target, workdir, "out1")
    second = synth_outside(wheel, target, workdir, "out2")

    def function_codes(template: dict) -> dict[str, str]:  # type: ignore[type-arg]
        """Each function's asset hash, by handler: the aliases' and the base image check's (on by default)."""
        codes = {}
        for logical_id, resource in template["Resources"].items():
            if resource["Type"] == "AWS::Lambda::Function":
                (kind,) = [
                    k
                    for k in (constructs_lib.aliases, constructs_lib.base_image_check)
                    if logical_id.startswith(k.PROVIDER_ID)
                ]
                codes[kind.__name__] = str(resource["Properties"]["Code"]["S3Key"]).removesuffix(".zip")
        return codes

    asset_hashes = function_codes(first)
    assert sorted(asset_hashes) == ["constructs_lib.aliases", "constructs_lib.base_image_check"]
    assert function_codes(second) == asset_hashes  # the same assets on every synth
    for kind, handler in (("aliases", "image_version_aliases"), ("base_image_check", "base_image_check")):
        asset = workdir / "out1" / f"asset.{asset_hashes[f'constructs_lib.{kind}']}"
        files = sorted(str(p.relative_to(asset)) for p in asset.rglob("*") if p.is_file())
        assert "index.py" in files and "custom_resource.py" in files
        assert (asset / "index.py").read_bytes() == (ROOT / "lambda" / handler / "index.py").read_bytes()
        assert "crhelper/resource_helper.py" in files
        assert not [f for f in files if f.endswith(".pyc")]
    aliases = [r for r in first["Resources"].values() if r["Type"] == "Custom::SageMakerImageVersionAliases"]
    assert [r["Properties"]["Aliases"] for r in aliases] == [["latest"]]
