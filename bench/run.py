#!/usr/bin/env python3
"""``make bench``: what the library costs over hand-written L1 code, and what its function costs.

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

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
APPS = {"library": BENCH / "app_library.py", "L1": BENCH / "app_l1.py"}
STACK_ID = "SageMakerImagesBench"  # bench/workload.py; not imported so that run.py loads no aws_cdk
HANDLER = ROOT / "lambda" / "image_version_aliases" / "index.py"

MAX_RATIO = 1.05
FUNCTIONS_PER_STACK = 1
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
# Lambda loads it (index.py by path, crhelper from the shipped asset, no byte code cached).
_IMPORT_PROBE = """
import importlib.util, sys, time
asset, handler, with_handler = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
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


def synth(app: str, outdir: Path, tmpdir: Path) -> tuple[float, float]:
    """Synthesize one app in a fresh process into an empty ``outdir``.

    Returns its wall time and the CPU time (user + system) of the process tree, Python and jsii's
    Node processes alike: CPU time hardly moves when other work shares the machine, wall time does.
    """
    shutil.rmtree(outdir, ignore_errors=True)
    outdir.mkdir(parents=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, str(APPS[app])],
        env=child_env(outdir, tmpdir),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=SYNTH_TIMEOUT_SECONDS,
    )
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        sys.exit(f"{app} app failed ({result.returncode}):\n{result.stderr}")
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return elapsed, cpu


def template(outdir: Path) -> dict[str, Any]:
    return dict(json.loads((outdir / f"{STACK_ID}.template.json").read_text()))


def count(tpl: dict[str, Any], type_: str) -> int:
    return sum(1 for r in tpl["Resources"].values() if r["Type"] == type_)


def bytes_per_version(outdir: Path) -> float:
    """Template size over the number of image versions: what each added version costs the template."""
    size = (outdir / f"{STACK_ID}.template.json").stat().st_size
    return size / count(template(outdir), "AWS::SageMaker::ImageVersion")


def function_asset(outdir: Path) -> Path:
    """The staged code folder (cdk.out/asset.<hash>) of the stack's one function."""
    functions = [r for r in template(outdir)["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    if len(functions) != 1:
        sys.exit(f"expected one AWS::Lambda::Function, found {len(functions)}")
    asset_hash = functions[0]["Properties"]["Code"]["S3Key"].removesuffix(".zip")
    manifest = json.loads((outdir / f"{STACK_ID}.assets.json").read_text())
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
    args = [str(asset), str(HANDLER), "1" if with_handler else "0"]
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
    rounds: int, work: Path, log: Callable[[str], None]
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """One discarded warm-up round, then ``rounds`` rounds, the two apps alternating.

    Returns the wall times and the CPU times of the measured rounds, per app.
    """
    wall: dict[str, list[float]] = {app: [] for app in APPS}
    cpu: dict[str, list[float]] = {app: [] for app in APPS}
    for n in range(rounds + 1):
        order = list(APPS) if n % 2 == 0 else list(reversed(APPS))
        took = {app: synth(app, work / app, work / "tmp") for app in order}
        label = "warm-up" if n == 0 else f"round {n}/{rounds}"
        log(
            f"  {label}: "
            + ", ".join(f"{app} {took[app][0]:.2f} s (CPU {took[app][1]:.2f} s)" for app in APPS)
        )
        if n > 0:
            for app, (seconds, cpu_seconds) in took.items():
                wall[app].append(seconds)
                cpu[app].append(cpu_seconds)
    return wall, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=5, help="measured rounds after the warm-up (>= 3)")
    parser.add_argument("--import-runs", type=int, default=9, help="fresh interpreters per import case")
    parser.add_argument("--no-check", action="store_true", help="print the figures, never fail")
    options = parser.parse_args()
    if options.rounds < 3:
        parser.error("--rounds must be at least 3")

    def log(line: str) -> None:
        print(line, flush=True)

    with tempfile.TemporaryDirectory(prefix="sagemaker-image-bench-") as tmp:
        work = Path(tmp)
        (work / "tmp").mkdir()
        log(f"Synthesizing {', '.join(APPS)} as whole processes, alternating:")
        load_before = os.getloadavg()[0]
        times, cpu = run_rounds(options.rounds, work, log)
        load_after = os.getloadavg()[0]
        lib_s, l1_s = (statistics.median(times[app]) for app in APPS)
        lib_cpu, l1_cpu = (statistics.median(cpu[app]) for app in APPS)
        ratio = lib_s / l1_s
        lib_bpv, l1_bpv = (bytes_per_version(work / app) for app in APPS)
        lib_fn, l1_fn = (count(template(work / app), "AWS::Lambda::Function") for app in APPS)
        asset = function_asset(work / "library")
        asset_kib, l1_asset_kib = size_kib(asset), size_kib(function_asset(work / "L1"))
        log(f"Timing the handler's cold import, {options.import_runs} fresh interpreters per case...")
        boto3_ms, both_ms = handler_import_ms(asset, options.import_runs)
        import_ms = both_ms - boto3_ms

    checks = [
        Check("synth wall time, median (s)", f"{lib_s:.2f}", f"{l1_s:.2f}", "", None),
        Check("ratio library/L1", f"{ratio:.3f}", "1", f"<= {MAX_RATIO}", ratio <= MAX_RATIO),
        Check("synth CPU time, median (s)", f"{lib_cpu:.2f}", f"{l1_cpu:.2f}", "", None),
        Check("CPU ratio library/L1", f"{lib_cpu / l1_cpu:.3f}", "1", "", None),
        Check(
            "template bytes per version",
            f"{lib_bpv:.0f} ({lib_bpv / l1_bpv:.2f}x)",
            f"{l1_bpv:.0f}",
            "",
            None,
        ),
        Check(
            "functions per stack",
            str(lib_fn),
            str(l1_fn),
            f"== {FUNCTIONS_PER_STACK}",
            lib_fn == FUNCTIONS_PER_STACK,
        ),
        Check(
            "function asset (KiB)",
            f"{asset_kib:.1f}",
            f"{l1_asset_kib:.1f}",
            f"< {MAX_ASSET_KIB:.0f}",
            asset_kib < MAX_ASSET_KIB,
        ),
        Check(
            "handler import beyond boto3 (ms)",
            f"{import_ms:.0f}",
            "",
            f"< {MAX_IMPORT_MS:.0f}",
            import_ms < MAX_IMPORT_MS,
        ),
    ]
    header = ("figure", "library", "L1", "target", "result")
    rows = [header] + [
        (c.name, c.library, c.l1, c.target, "" if c.ok is None else "PASS" if c.ok else "FAIL")
        for c in checks
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    print()
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    print(
        f"\n{options.rounds} rounds: library "
        + " ".join(f"{t:.2f}" for t in times["library"])
        + " s; L1 "
        + " ".join(f"{t:.2f}" for t in times["L1"])
        + f" s. Import medians: boto3 {boto3_ms:.0f} ms, boto3 + handler {both_ms:.0f} ms."
        + f" Load average {load_before:.2f} before, {load_after:.2f} after ({os.cpu_count()} CPUs)."
    )
    missed = [c.name for c in checks if c.ok is False]
    if missed and not options.no_check:
        print(f"Targets missed: {', '.join(missed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
