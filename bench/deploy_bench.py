#!/usr/bin/env python3
"""Deploy-time figures of the ``studio`` workload: what a deploy costs in Lambda invocations and
SageMaker update calls, for a create, an update and a delete of the stack.

``deploy_bench.py CHECKOUT`` synthesizes ``CHECKOUT/bench/app_library_studio.py`` with ``CHECKOUT``'s
library, twice (the workload, then the workload changed as below), and runs ``tests/deploy_sim.py`` (of
this checkout: the same simulator the tests use) against ``CHECKOUT``'s Studio handler: Create of every
Studio custom resource, the Update CloudFormation would send for the changed template, Delete. It prints
the figures as JSON. ``bench/run.py`` runs it in a subprocess for this checkout and for an older commit's
files (so each process imports one version of the library).

The update: the KernelGateway attachment of image 1 to the existing space moves its pin from version 9
to 10, and that of image 3 to the same space is removed.

Each phase also counts the SSM Parameter Store calls (the Studio ledger, in moto's store; none for a
handler without one), and, when the stack has scheduled rules, a ``reconcile`` phase runs them once after
the update, with nothing missing (its Update* calls should be 0). ``figures`` sums each phase up per
target and per invocation; ``--summary`` prints only that, as lines of text.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SIMULATOR = HERE.parent / "tests" / "deploy_sim.py"
MOVED = ("PyTorchTraining", "StudioSpace", 10)  # (image, attachment, new version number)
REMOVED = ("TensorFlowTraining", "StudioSpace")


def changed(specs: list[Any]) -> list[Any]:
    """The workload with one pin moved and one attachment removed (both on the existing space)."""
    out = []
    for spec in specs:
        attachments = []
        for attachment in spec.attachments:
            if (spec.image_id, attachment.id) == REMOVED:
                continue
            if (spec.image_id, attachment.id) == MOVED[:2]:
                attachment = dataclasses.replace(attachment, version=MOVED[2])
            attachments.append(attachment)
        out.append(dataclasses.replace(spec, attachments=attachments))
    assert out != specs, "the workload no longer has the attachments this update changes"
    return out


def figures(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per phase: invocations, Update* calls per target, SageMaker and SSM calls in all and at most per
    invocation."""
    out = {}
    for name, phase in report["phases"].items():
        per_invocation = phase["invocation_calls"]
        out[name] = {
            "invocations": phase["invocations"],
            "updates per target": sorted(set(phase["updates"].values())) or [0],
            "targets updated": len(phase["updates"]),
            "sagemaker calls": sum(phase["calls"].values()),
            "ssm calls": sum(phase["ssm"].values()),
            "ssm calls per invocation, at most": max(
                (sum(call["ssm"].values()) for call in per_invocation), default=0
            ),
            "ssm operations": phase["ssm"],
        }
    return out


def main() -> int:
    summary = "--summary" in sys.argv[1:]
    checkout = Path(next(arg for arg in sys.argv[1:] if not arg.startswith("--"))).resolve()
    # This checkout's bench/ must not shadow CHECKOUT's (workload.py, app_library_studio.py).
    sys.path[:] = [
        str(checkout),
        str(checkout / "bench"),
        *(p for p in sys.path if Path(p or ".").resolve() != HERE),
    ]
    spec = importlib.util.spec_from_file_location("deploy_sim", SIMULATOR)
    assert spec and spec.loader
    simulator = importlib.util.module_from_spec(spec)
    sys.modules["deploy_sim"] = simulator
    spec.loader.exec_module(simulator)

    import app_library_studio
    import aws_cdk as cdk
    from workload import STUDIO_STACK_ID

    templates = []
    with tempfile.TemporaryDirectory(prefix="deploy-bench-") as tmp:
        original = app_library_studio.studio
        for n in (1, 2):
            if n == 2:
                app_library_studio.studio = lambda: changed(original())  # type: ignore[assignment]
            app = cdk.App(outdir=f"{tmp}/cdk.out.{n}")
            app_library_studio.build(app)
            templates.append(dict(app.synth().get_stack_by_name(STUDIO_STACK_ID).template))
    report = simulator.simulate(checkout / "lambda" / "studio_custom_images", templates)
    del report["states"]
    report["figures"] = figures(report)
    if summary:
        for name, phase in report["figures"].items():
            print(f"{name}: " + ", ".join(f"{key} {value}" for key, value in phase.items()))
    else:
        print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
