"""The lowest supported versions: pyproject.toml's lower bounds are what make test-lowest installs."""

from __future__ import annotations

import tomllib
from importlib.metadata import version
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
LIBRARIES = ("aws-cdk-lib", "constructs", "crhelper")


def declared() -> dict[str, Requirement]:
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    requirements = [Requirement(line) for line in dependencies]
    return {requirement.name: requirement for requirement in requirements}


def pins(file: str) -> dict[str, str]:
    lines = (ROOT / file).read_text().splitlines()
    requirements = [Requirement(line) for line in lines if line.strip() and not line.startswith(("#", "-"))]
    return {r.name: str(r.specifier).removeprefix("==") for r in requirements}


def floor(requirement: Requirement) -> str:
    (lower,) = [spec.version for spec in requirement.specifier if spec.operator == ">="]
    return lower


def test_make_test_lowest_installs_exactly_the_declared_floors() -> None:
    lowest = pins("requirements-lowest.txt")
    assert {name: floor(requirement) for name, requirement in declared().items()} == {
        name: lowest[name] for name in LIBRARIES
    }
    # integ-tests-alpha is released with each aws-cdk-lib and requires at least that version.
    assert lowest["aws-cdk.integ-tests-alpha"] == lowest["aws-cdk-lib"] + "a0"


def test_the_newest_pins_and_the_installed_versions_are_within_the_declared_ranges() -> None:
    newest = pins("requirements.txt")
    for name, requirement in declared().items():
        assert Version(newest[name]) in requirement.specifier, (name, newest[name])
        assert Version(version(name)) in requirement.specifier, (name, version(name))


def test_ci_runs_the_lowest_versions_after_the_newest() -> None:
    commands = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line.startswith("make")]
    assert commands[-2:] == ["make test", "make test-lowest"]
