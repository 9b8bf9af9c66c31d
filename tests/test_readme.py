"""The README's diagram parses with mermaid (what GitHub renders it with), and its Python examples run."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

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


def test_readme_usage_example_synthesizes(tmp_path: Path) -> None:
    """The first Python example, as written, builds a valid app (with a synth call added)."""
    example = re.findall(r"```python\n(.*?)```", README, re.S)[0]
    script = tmp_path / "example.py"
    script.write_text(example + "\nstack.node.root.synth()\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CDK_OUTDIR": str(tmp_path / "out")}
    result = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    template = (tmp_path / "out" / "Images.template.json").read_text()
    assert "Custom::SageMakerImageVersionAliases" in template
