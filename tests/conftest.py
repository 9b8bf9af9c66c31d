"""Shared set-up: run jsii on the venv's Node 24 and give tests a fresh app and stack."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

# Before aws_cdk is imported anywhere: jsii starts its Node process on first import.
_VENV_NODE = Path(sys.prefix) / "node" / "bin" / "node"
if "JSII_NODE" not in os.environ and _VENV_NODE.exists():
    os.environ["JSII_NODE"] = str(_VENV_NODE)

import aws_cdk as cdk  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture
def app(tmp_path: Path) -> cdk.App:
    return cdk.App(outdir=str(tmp_path / "cdk.out"))


@pytest.fixture
def stack(app: cdk.App) -> cdk.Stack:
    """A region-agnostic stack, the case where nothing can be looked up at synth time."""
    return cdk.Stack(app, "Stack")


@pytest.fixture
def stack_in(app: cdk.App) -> Callable[[str], cdk.Stack]:
    """Make a stack bound to a concrete region (account 111122223333)."""

    def make(region: str) -> cdk.Stack:
        env = cdk.Environment(account="111122223333", region=region)
        return cdk.Stack(app, f"Stack-{region}", env=env)

    return make
