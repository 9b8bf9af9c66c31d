#!/usr/bin/env python3
"""``make bench``: what the library costs over hand-written L1 code, and what its functions cost.

Two workloads (``bench/workload.py``): ``images`` (5 images x 10 versions with floating aliases) and
``studio`` (the same images, each with an app image config and Studio attachments). Each has a library
app and the same template hand-written with L1s; ``bench/compare_templates.py`` checks that the two
are the same stack before either is timed.

Each app is synthesized as a whole, fresh ``python`` process (interpreter, jsii's Node process,
aws-cdk-lib load, construction, synth), as ``cdk synth`` runs it: that is the time a user waits, and
the only fair way to compare, since most of it is start-up both apps share. The two apps alternate
(library first in even rounds, L1 first in odd ones) so that drift in the machine hits both alike;
one warm-up round fills the OS page cache and is discarded. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compare_templates import differences
from workload import STACK_ID, STUDIO_STACK_ID  # plain data: run.py itself loads no aws_cdk

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"


@dataclass(frozen=True)
class Workload:
    """A stack synthesized by two apps, the library's and the hand-written L1 floor."""

    name: str
    stack_id: str
    apps: dict[str, Path]  # "library" and "L1", in that order


WORKLOADS = {
    "images": Workload("images", STACK_ID, {"library": BENCH / "app_library.py", "L1": BENCH / "app_l1.py"}),
    "studio": Workload(
        "studio",
        STUDIO_STACK_ID,
        {"library": BENCH / "app_library_studio.py", "L1": BENCH / "app_l1_studio.py"},
    ),
}
APPS = ("library", "L1")

MAX_RATIO = 1.05
# The commit before one custom resource per target: one per attachment, chained per target with DependsOn.
BEFORE_COMMIT = "6934a20"
DEPLOY_PHASES = ("create", "update", "delete")
FUNCTIONS_PER_KIND = 1
MAX_ASSET_KIB = 100.0
MAX_IMPORT_MS = 200.0
SYNTH_TIMEOUT_SECONDS = 300

# What the CDK CLI adds to cdk.json's context when it runs an app, so templates come out as
# `cdk synth` writes them (path and asset metadata, the CDKMetadata resource).
CLI_CONTEXT = {
    "aws:cdk:enable-path-metadata": True,
    "aws:cdk:enable-asset-metadata": True,
    "aws:cdk:version-reporting": True,
}

# Runs in a fresh interpreter: seconds spent importing boto3 alone, or boto3 and then the handler as
# Lambda loads it (the asset's index.py, with the shared module and crhelper beside it, no byte code).
_IMPORT_PROBE = """
import importlib.util, os, sys, time
asset, with_handler = sys.argv[1], sys.argv[2] == "1"
handler = os.path.join(asset, "index.py")
sys.path.insert(0, asset)
start = time.perf_counter()
import boto3
if with_handler:
    spec = importlib.util.spec_from_file_location("index", handler)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
print(time.perf_counter() - start)
"""


@dataclass(frozen=True)
class Check:
    """One reported figure against its target; ``ok`` is None for figures without a target."""

    name: str
    library: str
    l1: str
    target: str
    ok: bool | None


def child_env(outdir: Path, tmpdir: Path) -> dict[str, str]:
    """The Makefile's $(ENV), completed when run.py is started by hand, plus the synth's context."""
    env = dict(os.environ)
    node_bin = Path(sys.prefix) / "node" / "bin"
    if node_bin.is_dir():
        env["PATH"] = f"{node_bin}{os.pathsep}{env.get('PATH', '')}"
        env.setdefault("JSII_NODE", str(node_bin / "node"))
    context = json.loads((ROOT / "cdk.json").read_text()).get("context", {})
    env["CDK_CONTEXT_JSON"] = json.dumps({**context, **CLI_CONTEXT})
    env["CDK_OUTDIR"] = str(outdir)
    env["PYTHONPATH"] = str(ROOT)
    # Whatever the apps stage in temporary folders (the function code, once per process) stays
    # inside the bench's own folder, which is removed at the end even if a process is killed.
    env["TMPDIR"] = str(tmpdir)
    return env


def synth(app: Path, outdir: Path, tmpdir: Path) -> tuple[float, float]:
    """Synthesize one app in a fresh process into an empty ``outdir``.

    Returns its wall time and the CPU time (user + system) of the process tree, Python and jsii's
    Node processes alike: CPU time hardly moves when other work shares the machine, wall time does.
    """
    shutil.rmtree(outdir, ignore_errors=True)
    outdir.mkdir(parents=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, str(app)],
        env=child_env(outdir, tmpdir),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=SYNTH_TIMEOUT_SECONDS,
    )
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        sys.exit(f"{app.name} failed ({result.returncode}):\n{result.stderr}")
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return elapsed, cpu


def template(outdir: Path, stack_id: str) -> dict[str, Any]:
    return dict(json.loads((outdir / f"{stack_id}.template.json").read_text()))


def count(tpl: dict[str, Any], type_: str) -> int:
    return sum(1 for r in tpl["Resources"].values() if r["Type"] == type_)


def functions_by_kind(tpl: dict[str, Any]) -> dict[str, set[str]]:
    """The functions (logical ids) each custom resource type's ServiceTokens name, plus any function
    that serves no custom resource, under ``(unused)``."""
    kinds: dict[str, set[str]] = {}
    for cfn in tpl["Resources"].values():
        token = cfn.get("Properties", {}).get("ServiceToken")
        if cfn["Type"].startswith("Custom::") and isinstance(token, dict) and "Fn::GetAtt" in token:
            kinds.setdefault(cfn["Type"], set()).add(token["Fn::GetAtt"][0])
    used = set().union(*kinds.values())
    unused = {rid for rid, r in tpl["Resources"].items() if r["Type"] == "AWS::Lambda::Function"} - used
    if unused:
        kinds["(unused)"] = unused
    return kinds


def function_asset(outdir: Path, stack_id: str, function_id: str) -> Path:
    """The staged code folder (cdk.out/asset.<hash>) of one function of the stack."""
    function = template(outdir, stack_id)["Resources"][function_id]
    asset_hash = function["Properties"]["Code"]["S3Key"].removesuffix(".zip")
    manifest = json.loads((outdir / f"{stack_id}.assets.json").read_text())
    return outdir / str(manifest["files"][asset_hash]["source"]["path"])


def size_kib(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 1024


def import_seconds(asset: Path, with_handler: bool) -> float:
    """Cold import in a fresh interpreter, with dummy credentials so the module-level client builds."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "bench-dummy-secret",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    args = [str(asset), "1" if with_handler else "0"]
    result = subprocess.run(
        [sys.executable, "-c", _IMPORT_PROBE, *args], env=env, capture_output=True, text=True, timeout=60
    )
    if result.returncode != 0:
        sys.exit(f"import probe failed:\n{result.stderr}")
    return float(result.stdout.strip())


def handler_import_ms(asset: Path, runs: int) -> tuple[float, float]:
    """Median cold import of boto3 alone and of boto3 plus the handler, alternating, in ms."""
    import_seconds(asset, True)  # warm the page cache
    alone, both = [], []
    for _ in range(runs):
        alone.append(import_seconds(asset, False))
        both.append(import_seconds(asset, True))
    return statistics.median(alone) * 1000, statistics.median(both) * 1000


def run_rounds(
    workload: Workload, rounds: int, work: Path, log: Callable[[str], None], check_templates: bool
) -> tuple[dict[str, list[float]], dict[str, list[float]], list[str]]:
    """One discarded warm-up round, then ``rounds`` rounds, the two apps alternating.

    Returns the wall times and the CPU times of the measured rounds, per app, and the differences
    between the two templates of the warm-up round (the comparison is not timed).
    """
    wall: dict[str, list[float]] = {app: [] for app in APPS}
    cpu: dict[str, list[float]] = {app: [] for app in APPS}
    found: list[str] = []
    for n in range(rounds + 1):
        order = list(APPS) if n % 2 == 0 else list(reversed(APPS))
        took = {app: synth(workload.apps[app], work / app, work / "tmp") for app in order}
        label = "warm-up" if n == 0 else f"round {n}/{rounds}"
        log(
            f"  {label}: "
            + ", ".join(f"{app} {took[app][0]:.2f} s (CPU {took[app][1]:.2f} s)" for app in APPS)
        )
        if n == 0:
            library, l1 = (template(work / app, workload.stack_id) for app in APPS)
            found = differences(library, l1)
            log("  templates: " + ("the same stack" if not found else f"{len(found)} differences:"))
            for line in found:
                log(f"    {line[:400]}")
            if found and check_templates:
                sys.exit(f"{workload.name}: the library and L1 templates differ; the comparison is not fair")
        else:
            for app, (seconds, cpu_seconds) in took.items():
                wall[app].append(seconds)
                cpu[app].append(cpu_seconds)
    return wall, cpu, found


@dataclass
class Measured:
    """What one workload's rounds give: the table rows, the raw times, and the library's function assets."""

    checks: list[Check]
    times: dict[str, list[float]]
    assets: dict[str, Path]  # by custom resource type, copied out of the temporary folder


def measure(
    workload: Workload, rounds: int, work: Path, log: Callable[[str], None], strict: bool
) -> Measured:
    log(f"Workload {workload.name}: synthesizing {', '.join(APPS)} as whole processes, alternating:")
    times, cpu, found = run_rounds(workload, rounds, work, log, strict)
    lib_s, l1_s = (statistics.median(times[app]) for app in APPS)
    lib_cpu, l1_cpu = (statistics.median(cpu[app]) for app in APPS)
    ratio = lib_s / l1_s
    tpl = {app: template(work / app, workload.stack_id) for app in APPS}
    size = {app: (work / app / f"{workload.stack_id}.template.json").stat().st_size for app in APPS}
    versions = count(tpl["library"], "AWS::SageMaker::ImageVersion")
    kinds = {app: functions_by_kind(tpl[app]) for app in APPS}
    one_each = all(len(fns) == FUNCTIONS_PER_KIND for fns in kinds["library"].values())
    one_each = one_each and "(unused)" not in kinds["library"]
    checks = [
        Check(
            "templates the same stack (compare_templates)",
            "yes" if not found else f"{len(found)} differences",
            "",
            "same",
            not found,
        ),
        Check("synth wall time, median (s)", f"{lib_s:.2f}", f"{l1_s:.2f}", "", None),
        Check("ratio library/L1", f"{ratio:.3f}", "1", f"<= {MAX_RATIO}", ratio <= MAX_RATIO),
        Check(
            "ratio per round (paired), median",
            f"{statistics.median(a / b for a, b in zip(times['library'], times['L1'], strict=True)):.3f}",
            "1",
            "",
            None,
        ),
        Check("synth CPU time, median (s)", f"{lib_cpu:.2f}", f"{l1_cpu:.2f}", "", None),
        Check("CPU ratio library/L1", f"{lib_cpu / l1_cpu:.3f}", "1", "", None),
        Check(
            "template bytes",
            f"{size['library']} ({size['library'] / size['L1']:.2f}x)",
            str(size["L1"]),
            "",
            None,
        ),
        Check(
            "template bytes per version",
            f"{size['library'] / versions:.0f}",
            f"{size['L1'] / versions:.0f}",
            "",
            None,
        ),
        Check(
            "functions per stack (kinds)",
            f"{count(tpl['library'], 'AWS::Lambda::Function')} ({len(kinds['library'])})",
            f"{count(tpl['L1'], 'AWS::Lambda::Function')} ({len(kinds['L1'])})",
            f"{FUNCTIONS_PER_KIND} per kind",
            one_each,
        ),
    ]
    assets: dict[str, Path] = {}
    for kind, functions in sorted(kinds["library"].items()):
        lib_asset = function_asset(work / "library", workload.stack_id, sorted(functions)[0])
        l1_functions = kinds["L1"].get(kind)
        l1_kib = (
            f"{size_kib(function_asset(work / 'L1', workload.stack_id, sorted(l1_functions)[0])):.1f}"
            if l1_functions
            else ""
        )
        kib = size_kib(lib_asset)
        checks.append(
            Check(
                f"function asset, {kind} (KiB)",
                f"{kib:.1f}",
                l1_kib,
                f"< {MAX_ASSET_KIB:.0f}",
                kib < MAX_ASSET_KIB,
            )
        )
        assets[kind] = work / f"asset-{kind.removeprefix('Custom::')}"
        shutil.copytree(lib_asset, assets[kind], dirs_exist_ok=True)
    return Measured(checks, times, assets)


def deploy_figures(work: Path, log: Callable[[str], None]) -> list[Check]:
    """The studio workload deployed through the simulator (``bench/deploy_bench.py``): Lambda
    invocations and SageMaker Update* calls per target, for a create, an update and a delete, with this
    checkout's library and handler ("after") and with those of BEFORE_COMMIT ("before").

    Each runs in its own process, with that checkout's files first on the path.
    """
    before = work / "before"
    before.mkdir(parents=True)
    (work / "tmp").mkdir()
    archive = subprocess.run(
        ["git", "archive", BEFORE_COMMIT, "constructs_lib", "lambda", "bench"], cwd=ROOT, capture_output=True
    )
    if archive.returncode != 0:
        log(f"  no deploy figures: git archive {BEFORE_COMMIT} failed: {archive.stderr.decode().strip()}")
        return []
    subprocess.run(["tar", "-x", "-C", str(before)], input=archive.stdout, check=True)
    reports: dict[str, dict[str, Any]] = {}
    for label, checkout in (("before", before), ("after", ROOT)):
        source = f"commit {BEFORE_COMMIT}" if label == "before" else "this checkout"
        log(f"Deploying the studio workload through the simulator, {label} ({source})...")
        env = child_env(work / "deploy-out", work / "tmp")
        env["PYTHONPATH"] = str(checkout)
        result = subprocess.run(
            [sys.executable, str(BENCH / "deploy_bench.py"), str(checkout)],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=SYNTH_TIMEOUT_SECONDS,
        )
        if result.returncode != 0:
            sys.exit(f"deploy_bench.py {label} failed ({result.returncode}):\n{result.stderr[-3000:]}")
        reports[label] = json.loads(result.stdout)

    def calls(phase: dict[str, Any]) -> str:
        per_target = list(phase["updates"].values())
        if not per_target:
            return "0"
        spread = (
            f"{min(per_target)}"
            if min(per_target) == max(per_target)
            else f"{min(per_target)}-{max(per_target)}"
        )
        return f"{spread} ({sum(per_target)} on {len(per_target)} targets)"

    after, old = reports["after"], reports["before"]
    checks = [
        Check(
            "Studio custom resources (create / after update)",
            " / ".join(map(str, after["resources"])),
            " / ".join(map(str, old["resources"])),
            "",
            None,
        )
    ]
    for name in DEPLOY_PHASES:
        new_phase, old_phase = after["phases"][name], old["phases"][name]
        checks.append(
            Check(
                f"{name}: Lambda invocations",
                str(new_phase["invocations"]),
                str(old_phase["invocations"]),
                "",
                None,
            )
        )
        checks.append(
            Check(
                f"{name}: Update* calls per target",
                calls(new_phase),
                calls(old_phase),
                "1 per target",
                bool(new_phase["updates"]) and set(new_phase["updates"].values()) == {1},
            )
        )
    return checks


def print_table(
    title: str, checks: list[Check], header: tuple[str, ...] = ("figure", "library", "L1", "target", "result")
) -> None:
    rows = [header] + [
        (c.name, c.library, c.l1, c.target, "" if c.ok is None else "PASS" if c.ok else "FAIL")
        for c in checks
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    print(f"\n{title}")
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=5, help="measured rounds after the warm-up (>= 3)")
    parser.add_argument("--import-runs", type=int, default=9, help="fresh interpreters per import case")
    parser.add_argument(
        "--workload", choices=[*WORKLOADS, "all"], default="all", help="which workload (default: all)"
    )
    parser.add_argument("--no-check", action="store_true", help="print the figures, never fail")
    options = parser.parse_args()
    if options.rounds < 3:
        parser.error("--rounds must be at least 3")
    chosen = list(WORKLOADS.values()) if options.workload == "all" else [WORKLOADS[options.workload]]

    def log(line: str) -> None:
        print(line, flush=True)

    results: dict[str, Measured] = {}
    handler_checks: list[Check] = []
    deploy_checks: list[Check] = []
    imports: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory(prefix="sagemaker-image-bench-") as tmp:
        load_before = os.getloadavg()[0]
        for workload in chosen:
            work = Path(tmp) / workload.name
            (work / "tmp").mkdir(parents=True)
            results[workload.name] = measure(workload, options.rounds, work, log, not options.no_check)
        if "studio" in results:
            deploy_checks = deploy_figures(Path(tmp) / "deploy", log)
        load_after = os.getloadavg()[0]
        assets: dict[str, Path] = {}
        for measured in results.values():
            assets.update(measured.assets)
        for kind, asset in sorted(assets.items()):
            log(
                f"Timing the {kind} handler's cold import, {options.import_runs} fresh interpreters a case..."
            )
            imports[kind] = handler_import_ms(asset, options.import_runs)
            boto3_ms, both_ms = imports[kind]
            handler_checks.append(
                Check(
                    f"handler import beyond boto3, {kind} (ms)",
                    f"{both_ms - boto3_ms:.0f}",
                    "",
                    f"< {MAX_IMPORT_MS:.0f}",
                    both_ms - boto3_ms < MAX_IMPORT_MS,
                )
            )

    for name, measured in results.items():
        print_table(f"Workload {name}:", measured.checks)
    print_table("Functions:", handler_checks)
    if deploy_checks:
        print_table(
            "Deploy, studio workload (simulated; the update moves one pin and removes one attachment):",
            deploy_checks,
            ("figure", "now", BEFORE_COMMIT, "target", "result"),
        )
    print()
    for name, measured in results.items():
        print(
            f"{name}, {options.rounds} rounds: library "
            + " ".join(f"{t:.2f}" for t in measured.times["library"])
            + " s; L1 "
            + " ".join(f"{t:.2f}" for t in measured.times["L1"])
            + " s."
        )
    print(
        "Import medians: "
        + "; ".join(
            f"{kind}: boto3 {a:.0f} ms, boto3 + handler {b:.0f} ms" for kind, (a, b) in imports.items()
        )
        + f". Load average {load_before:.2f} before, {load_after:.2f} after ({os.cpu_count()} CPUs)."
    )
    checks = [c for measured in results.values() for c in measured.checks] + handler_checks + deploy_checks
    missed = [c.name for c in checks if c.ok is False]
    if missed and not options.no_check:
        print(f"Targets missed: {', '.join(missed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
