"""The library's public types as a user's type checker sees them: pyright's --verifytypes, run on the
venv's Node 24 with the pinned pyright (package.json), must find them complete."""

from __future__ import annotations

import importlib
import inspect
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import constructs_lib
from constructs_lib import Image, StudioAttachment, aliases, studio

ROOT = Path(__file__).resolve().parents[1]
NODE = Path(sys.prefix) / "node" / "bin" / "node"
PYRIGHT = ROOT / "node_modules" / "pyright" / "index.js"


def test_pyright_verifytypes_scores_the_public_interface_complete() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [str(NODE), str(PYRIGHT), "--pythonpath", sys.executable, "--verifytypes", "constructs_lib",
         "--ignoreexternal"],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=300,
    )  # fmt: skip
    assert "Type completeness score: 100%" in result.stdout, result.stdout[-4000:]
    assert "Functions without docstring: 0" in result.stdout
    assert result.returncode == 0


def test_internal_classes_do_not_look_public() -> None:
    """The functions' providers are the library's machinery, not API: no module shows one publicly."""
    modules = [constructs_lib, studio, aliases] + [
        importlib.import_module(info.name)
        for info in pkgutil.walk_packages(constructs_lib.__path__, "constructs_lib.")
        if "lambda_handlers" not in info.name
    ]
    for module in modules:
        public = [name for name in vars(module) if name.endswith("Provider") and not name.startswith("_")]
        assert public == [], module.__name__


def test_version_takes_no_float_in_its_type() -> None:
    for function in (StudioAttachment.__init__, Image.attach_to_studio):
        annotation = str(inspect.signature(function).parameters["version"].annotation)
        assert "float" not in annotation and "int" in annotation, annotation
