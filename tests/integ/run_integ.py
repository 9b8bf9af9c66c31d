#!/usr/bin/env python3
"""Synthesize the integration app offline, or deploy it, check its assertions and destroy it.

integ-runner would do this for an ``IntegTest`` app, but its latest release (2.197.10) reads cloud
assemblies up to schema 53 while aws-cdk-lib 2.275 writes schema 55, so it stops at "Cloud assembly
schema version mismatch" before it compares a snapshot or deploys. The project's pinned CDK CLI reads 55,
so this script drives it and reads the assertion results from the assertion stack's outputs itself.

    run_integ.py synth           synthesize and check the assembly holds the test (offline, no AWS)
    run_integ.py deploy CDK...   CDK is the CLI command (the Makefile's $(CDK)). Without AWS credentials:
                                 say so and succeed. Otherwise deploy the test and assertion stacks,
                                 require every assertion to pass, and destroy both, also after a failure
                                 (INTEG_KEEP=1 keeps them for debugging).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
APP = HERE / "integ_image_aliases.py"
TEST_STACK = "IntegSageMakerImageAliases"
ASSERTION_STACK = "IntegSageMakerImageAliasesAssertions"
ASSERTION_PREFIX = "AssertionResults"
EXPECTED_ASSERTIONS = 3
# What the LatestBeforeMove check must have seen: version 1 held `latest` before version 2 existed.
BEFORE_MOVE = ("LatestVersionBeforeMove", "1")
NO_CREDENTIALS = (
    "make integ: no AWS credentials found; skipping the deploying integration test "
    "(it needs an account with SageMaker)"
)


def synthesize(outdir: Path) -> list[str]:
    """Run the app into ``outdir`` and return its assertion output names, after checking its shape."""
    pythonpath = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "CDK_OUTDIR": str(outdir), "PYTHONPATH": pythonpath}
    subprocess.run([sys.executable, str(APP)], env=env, cwd=ROOT, check=True)
    return check_assembly(outdir)


def check_assembly(outdir: Path) -> list[str]:
    """Fail unless the assembly has the test stack, the assertion stack after it, and every assertion."""
    manifest = _load(outdir / "manifest.json")
    artifacts: dict[str, Any] = manifest["artifacts"]
    for stack in (TEST_STACK, ASSERTION_STACK):
        if artifacts.get(stack, {}).get("type") != "aws:cloudformation:stack":
            raise SystemExit(f"integ: stack {stack} is missing from the synthesized app")
    if TEST_STACK not in artifacts[ASSERTION_STACK].get("dependencies", []):
        raise SystemExit(f"integ: {ASSERTION_STACK} must be deployed after {TEST_STACK}")
    cases = _load(outdir / "integ.json")["testCases"].values()
    if not any(TEST_STACK in case["stacks"] and case["assertionStack"] == ASSERTION_STACK for case in cases):
        raise SystemExit(f"integ: integ.json has no test case for {TEST_STACK} asserted by {ASSERTION_STACK}")
    outputs = _load(outdir / f"{ASSERTION_STACK}.template.json").get("Outputs", {})
    names = sorted(name for name in outputs if name.startswith(ASSERTION_PREFIX))
    if len(names) != EXPECTED_ASSERTIONS:
        raise SystemExit(f"integ: expected {EXPECTED_ASSERTIONS} assertions, found {len(names)}: {names}")
    return names


def has_credentials() -> bool:
    """Whatever boto3 (and so the CDK CLI's SDK) would find: env vars, a profile, SSO, instance role."""
    import boto3  # type: ignore[import-untyped]

    credentials: object = boto3.Session().get_credentials()
    return credentials is not None


def deploy(cdk: list[str]) -> int:
    """Deploy, check, destroy; 0 only if the deployment succeeded and every assertion passed."""
    if not has_credentials():
        print(NO_CREDENTIALS)
        return 0
    keep = os.environ.get("INTEG_KEEP") == "1"
    with tempfile.TemporaryDirectory(prefix="integ-image-aliases-") as tmp:
        assembly, outputs = Path(tmp) / "cdk.out", Path(tmp) / "outputs.json"
        names = synthesize(assembly)
        # Deployed and destroyed from the same synthesized assembly; the CLI runs outside the checkout,
        # so its cdk.json (the reference app) plays no part.
        app = ["--app", str(assembly), "--all", "--no-notices"]
        ok = False
        try:
            subprocess.run(
                [*cdk, "deploy", *app, "--require-approval", "never", "--outputs-file", str(outputs)],
                cwd=tmp,
                check=True,
            )
            ok = assertions_pass(_load(outputs), names)
        except subprocess.CalledProcessError as error:
            print(f"integ: deployment failed ({error}); destroying what was created", file=sys.stderr)
        finally:
            if keep:
                print(f"integ: INTEG_KEEP=1, leaving {TEST_STACK} and {ASSERTION_STACK} deployed")
            elif subprocess.run([*cdk, "destroy", *app, "--force"], cwd=tmp).returncode != 0:
                print(f"integ: destroy failed; delete {ASSERTION_STACK}, then {TEST_STACK}", file=sys.stderr)
                ok = False
    print(f"integ: {'PASSED' if ok else 'FAILED'}")
    return 0 if ok else 1


def assertions_pass(outputs: dict[str, Any], names: list[str]) -> bool:
    """Print each assertion's result from the CLI's outputs file; True only if all succeeded."""
    name, expected = BEFORE_MOVE
    seen = str(outputs.get(TEST_STACK, {}).get(name))
    print(f"integ: {name} = {seen} (expected {expected})")
    passed = [seen == expected]
    results = outputs.get(ASSERTION_STACK, {})
    for name in names:
        raw = results.get(name)
        result = json.loads(raw) if isinstance(raw, str) else {"status": "missing"}
        print(f"integ: {name}: {result.get('status')} {result.get('message', '')}".rstrip())
        passed.append(result.get("status") == "success")
    return all(passed)


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def main(argv: list[str]) -> int:
    if argv[:1] == ["synth"] and len(argv) == 1:
        with tempfile.TemporaryDirectory(prefix="integ-image-aliases-") as tmp:
            names = synthesize(Path(tmp) / "cdk.out")
        print(f"integ: {APP.name} synthesized offline, {len(names)} assertions on {TEST_STACK}")
        return 0
    if argv[:1] == ["deploy"] and len(argv) > 1:
        return deploy(argv[1:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
