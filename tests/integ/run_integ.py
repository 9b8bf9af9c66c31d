#!/usr/bin/env python3
"""Synthesize the integration apps offline, or deploy them, check their assertions and destroy them.

integ-runner would do this for an ``IntegTest`` app, but its latest release (2.197.10) reads cloud
assemblies up to schema 53 while aws-cdk-lib 2.275 writes schema 55, so it stops at "Cloud assembly
schema version mismatch" before it compares a snapshot or deploys. The project's pinned CDK CLI reads 55,
so this script drives it and reads the assertion results from the assertion stacks' outputs itself.

    run_integ.py [-c KEY=VALUE ...] synth
        synthesize every app and check each assembly holds its test (offline, no AWS). The Studio app
        gets the placeholder domain d-integsynth0 unless -c integ_domain_id=... names one.
    run_integ.py [-c KEY=VALUE ...] deploy CDK...
        CDK is the CLI command (the Makefile's $(CDK)). Without AWS credentials: say so and succeed.
        Otherwise, one app after the other: deploy its test and assertion stacks, require every
        assertion to pass, and destroy both, also after a failure (INTEG_KEEP=1 keeps them). The Studio
        app runs only with -c integ_domain_id=d-... (an existing domain; it is skipped, saying so,
        without one); -c integ_domain_role_arn=... also grants that role read on its image.

The -c values reach the apps as CDK context (CDK_CONTEXT_JSON), as `cdk -c` would pass them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
ASSERTION_PREFIX = "AssertionResults"
DOMAIN_CONTEXT = "integ_domain_id"
# A well-formed domain id that names no domain: `make integ-synth` checks the Studio app with it.
PLACEHOLDER_DOMAIN = "d-integsynth0"
# The attachment's custom resource; matched by prefix, for both `...CustomImage` and `...CustomImages`.
STUDIO_RESOURCE_PREFIX = "Custom::SageMakerStudioCustomImage"
# integ_studio_images.IMAGE_NAME: the image the attachment lists.
STUDIO_IMAGE = "integ-sagemaker-studio-image"
DESCRIBE_DOMAIN = "Custom::DeployAssert@SdkCallSageMakerdescribeDomain"
NO_CREDENTIALS = (
    "make integ: no AWS credentials found; skipping the deploying integration tests "
    "(they need an account with SageMaker)"
)
STUDIO_SKIPPED = (
    f"make integ: Studio part SKIPPED: it lists an image in an existing Studio domain and none was given; "
    f'run `make integ INTEG_ARGS="-c {DOMAIN_CONTEXT}=d-..."` to include it'
)


@dataclass(frozen=True)
class Test:
    """One integration app: its file, its stacks, its assertion count and the outputs it must show."""

    app: str
    test_stack: str
    assertion_stack: str
    assertions: int
    # Test-stack outputs the deployment must show, with their expected values.
    outputs: tuple[tuple[str, str], ...] = ()
    # A context key the app needs to deploy (it is skipped without it) and its offline placeholder.
    needs: str | None = None
    placeholder: str | None = None


ALIASES = Test(
    app="integ_image_aliases.py",
    test_stack="IntegSageMakerImageAliases",
    assertion_stack="IntegSageMakerImageAliasesAssertions",
    assertions=3,
    # What the LatestBeforeMove check must have seen: version 1 held `latest` before version 2 existed.
    outputs=(("LatestVersionBeforeMove", "1"),),
)
STUDIO = Test(
    app="integ_studio_images.py",
    test_stack="IntegSageMakerStudioImages",
    assertion_stack="IntegSageMakerStudioImagesAssertions",
    assertions=1,
    needs=DOMAIN_CONTEXT,
    placeholder=PLACEHOLDER_DOMAIN,
)
TESTS = (ALIASES, STUDIO)


def synthesize(test: Test, outdir: Path, context: dict[str, str]) -> list[str]:
    """Run the app into ``outdir`` and return its assertion output names, after checking its shape."""
    pythonpath = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    given = json.loads(os.environ.get("CDK_CONTEXT_JSON") or "{}")
    env = {
        **os.environ,
        "CDK_OUTDIR": str(outdir),
        "PYTHONPATH": pythonpath,
        "CDK_CONTEXT_JSON": json.dumps({**given, **context}),
    }
    subprocess.run([sys.executable, str(HERE / test.app)], env=env, cwd=ROOT, check=True)
    names = check_assembly(test, outdir)
    if test is STUDIO:
        check_studio(outdir, context[DOMAIN_CONTEXT])
    return names


def check_assembly(test: Test, outdir: Path) -> list[str]:
    """Fail unless the assembly has the test stack, the assertion stack after it, and every assertion."""
    manifest = _load(outdir / "manifest.json")
    artifacts: dict[str, Any] = manifest["artifacts"]
    for stack in (test.test_stack, test.assertion_stack):
        if artifacts.get(stack, {}).get("type") != "aws:cloudformation:stack":
            raise SystemExit(f"integ: stack {stack} is missing from {test.app}")
    if test.test_stack not in artifacts[test.assertion_stack].get("dependencies", []):
        raise SystemExit(f"integ: {test.assertion_stack} must be deployed after {test.test_stack}")
    cases = _load(outdir / "integ.json")["testCases"].values()
    if not any(
        test.test_stack in case["stacks"] and case["assertionStack"] == test.assertion_stack for case in cases
    ):
        raise SystemExit(
            f"integ: integ.json has no test case for {test.test_stack} asserted by {test.assertion_stack}"
        )
    outputs = _template(outdir, test.assertion_stack).get("Outputs", {})
    names = sorted(name for name in outputs if name.startswith(ASSERTION_PREFIX))
    if len(names) != test.assertions:
        raise SystemExit(
            f"integ: {test.app}: expected {test.assertions} assertions, found {len(names)}: {names}"
        )
    return names


def check_studio(outdir: Path, domain_id: str) -> None:
    """Fail unless the Studio test lists an entry in ``domain_id`` and asserts it with DescribeDomain."""
    resources = _template(outdir, STUDIO.test_stack).get("Resources", {}).values()
    # Whatever the resource's shape (one per attachment, or one per target with its CustomImages):
    # on the domain, and naming the image.
    attachments = [
        r
        for r in resources
        if str(r.get("Type", "")).startswith(STUDIO_RESOURCE_PREFIX)
        and r.get("Properties", {}).get("DomainId") == domain_id
        and f'"{STUDIO_IMAGE}"' in json.dumps(r["Properties"])
    ]
    if len(attachments) != 1:
        raise SystemExit(
            f"integ: {STUDIO.test_stack} must hold one {STUDIO_RESOURCE_PREFIX}* resource listing "
            f"{STUDIO_IMAGE} on domain {domain_id}, found {len(attachments)}"
        )
    assertions = _template(outdir, STUDIO.assertion_stack).get("Resources", {}).values()
    calls = [
        r
        for r in assertions
        if r.get("Type") == DESCRIBE_DOMAIN
        and json.loads(r["Properties"].get("parameters", {}).get("DomainId", "null")) == domain_id
        and "CustomImages" in str(r["Properties"].get("expected", ""))
    ]
    if len(calls) != 1:
        raise SystemExit(
            f"integ: {STUDIO.assertion_stack} must hold one DescribeDomain assertion on {domain_id} "
            f"that expects CustomImages, found {len(calls)}"
        )
    statements = [
        statement
        for r in assertions
        if r.get("Type") == "AWS::IAM::Role"
        for policy in r.get("Properties", {}).get("Policies", [])
        for statement in policy["PolicyDocument"]["Statement"]
    ]
    if not any(
        "sagemaker:DescribeDomain" in json.dumps(s.get("Action"))
        and f"domain/{domain_id}" in json.dumps(s.get("Resource"))
        for s in statements
    ):
        raise SystemExit(
            f"integ: the assertion provider may not call sagemaker:DescribeDomain on domain/{domain_id}"
        )


def has_credentials() -> bool:
    """Whatever boto3 (and so the CDK CLI's SDK) would find: env vars, a profile, SSO, instance role."""
    import boto3  # type: ignore[import-untyped]

    credentials: object = boto3.Session().get_credentials()
    return credentials is not None


def deploy(cdk: list[str], context: dict[str, str]) -> int:
    """Deploy, check, destroy each app; 0 only if every deployment succeeded and every assertion passed."""
    if not has_credentials():
        print(NO_CREDENTIALS)
        return 0
    tests = [test for test in TESTS if test.needs is None or context.get(test.needs)]
    if STUDIO not in tests:
        print(STUDIO_SKIPPED)
    results = {test.app: deploy_one(test, cdk, context) for test in tests}
    for app, ok in results.items():
        print(f"integ: {app}: {'PASSED' if ok else 'FAILED'}")
    if STUDIO not in tests:
        print(STUDIO_SKIPPED)
    ok = all(results.values())
    print(f"integ: {'PASSED' if ok else 'FAILED'}")
    return 0 if ok else 1


def deploy_one(test: Test, cdk: list[str], context: dict[str, str]) -> bool:
    """Deploy one app, check its assertions, destroy it; True only if all went well."""
    keep = os.environ.get("INTEG_KEEP") == "1"
    with tempfile.TemporaryDirectory(prefix="integ-") as tmp:
        assembly, outputs = Path(tmp) / "cdk.out", Path(tmp) / "outputs.json"
        names = synthesize(test, assembly, context)
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
            ok = assertions_pass(test, _load(outputs), names)
        except subprocess.CalledProcessError as error:
            print(f"integ: deployment failed ({error}); destroying what was created", file=sys.stderr)
        finally:
            stacks = f"{test.test_stack} and {test.assertion_stack}"
            if keep:
                print(f"integ: INTEG_KEEP=1, leaving {stacks} deployed")
            elif subprocess.run([*cdk, "destroy", *app, "--force"], cwd=tmp).returncode != 0:
                print(
                    f"integ: destroy failed; delete {test.assertion_stack}, then {test.test_stack}",
                    file=sys.stderr,
                )
                ok = False
    return ok


def assertions_pass(test: Test, outputs: dict[str, Any], names: list[str]) -> bool:
    """Print each check's result from the CLI's outputs file; True only if all succeeded."""
    passed = []
    for name, expected in test.outputs:
        seen = str(outputs.get(test.test_stack, {}).get(name))
        print(f"integ: {name} = {seen} (expected {expected})")
        passed.append(seen == expected)
    results = outputs.get(test.assertion_stack, {})
    for name in names:
        raw = results.get(name)
        result = json.loads(raw) if isinstance(raw, str) else {"status": "missing"}
        print(f"integ: {name}: {result.get('status')} {result.get('message', '')}".rstrip())
        passed.append(result.get("status") == "success")
    return all(passed)


def _template(outdir: Path, stack: str) -> dict[str, Any]:
    return _load(outdir / f"{stack}.template.json")


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def parse_context(argv: list[str]) -> tuple[dict[str, str], list[str]]:
    """Leading ``-c KEY=VALUE`` (or ``--context``) pairs, as the CDK CLI takes them, and the rest."""
    context: dict[str, str] = {}
    while argv[:1] in (["-c"], ["--context"]):
        key, sep, value = (argv[1] if len(argv) > 1 else "").partition("=")
        if not key or not sep:
            raise SystemExit(f"integ: {argv[0]} takes KEY=VALUE, got {argv[1:2] or 'nothing'}")
        context[key] = value
        argv = argv[2:]
    return context, argv


def main(argv: list[str]) -> int:
    context, argv = parse_context(argv)
    if argv[:1] == ["synth"] and len(argv) == 1:
        for test in TESTS:
            given = {test.needs: test.placeholder} if test.needs and test.placeholder else {}
            app_context = {**given, **context}
            with tempfile.TemporaryDirectory(prefix="integ-") as tmp:
                names = synthesize(test, Path(tmp) / "cdk.out", app_context)
            on = f" (domain {app_context[DOMAIN_CONTEXT]})" if test is STUDIO else ""
            print(f"integ: {test.app} synthesized offline, {len(names)} assertions on {test.test_stack}{on}")
        return 0
    if argv[:1] == ["deploy"] and len(argv) > 1:
        return deploy(argv[1:], context)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
