#!/usr/bin/env python3
"""Where a bench app's synth time goes: phases, and jsii round trips by caller and by kind.

Every call from Python into aws-cdk-lib is a JSON round trip to jsii's Node process, so round trips
per construct are what a Python construct library costs beyond the L1 resources it writes. This runs
one app in-process (``.venv/bin/python bench/jsii_calls.py bench/app_library.py``, or any other
``bench/app_*.py``), with the context ``make bench`` gives it, and counts them by wrapping jsii's
private ``_NodeProcess.send``: a diagnostic for the numbers in docs/benchmarks.md, not part of
``make bench``.
"""

from __future__ import annotations

import argparse
import json
import os
import runpy
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = str(ROOT / "constructs_lib")


def _caller(frame: FrameType | None) -> str:
    """The innermost constructs_lib function on the stack, else the innermost bench/ one."""
    fallback = "(aws_cdk / jsii)"
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename.startswith(LIBRARY):
            return f"{Path(filename).name}:{frame.f_code.co_name}"
        if fallback.startswith("(") and filename.startswith(str(ROOT / "bench")) and filename != __file__:
            fallback = f"{Path(filename).name}:{frame.f_code.co_name}"
        frame = frame.f_back
    return fallback


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("app", type=Path, help="bench/app_library.py, app_l1.py, app_library_studio.py, ...")
    parser.add_argument("--top", type=int, default=15, help="rows per table")
    options = parser.parse_args()

    node_bin = Path(sys.prefix) / "node" / "bin"  # the venv's Node 24, as run.py gives the apps
    if node_bin.is_dir():
        os.environ["PATH"] = f"{node_bin}{os.pathsep}{os.environ.get('PATH', '')}"
        os.environ.setdefault("JSII_NODE", str(node_bin / "node"))
    sys.path[:0] = [str(ROOT), str(options.app.resolve().parent)]
    from jsii._kernel.providers import process  # private: the one place every round trip passes
    from run import CLI_CONTEXT

    by_caller: Counter[str] = Counter()
    by_kind: Counter[str] = Counter()
    original = process._NodeProcess.send

    def send(self: Any, request: Any, response_type: Any) -> Any:
        target = getattr(request, "fqn", None) or getattr(request, "method", None)
        target = target or getattr(request, "property", None) or ""
        by_kind[f"{type(request).__name__.removesuffix('Request')} {target}".strip()] += 1
        by_caller[_caller(sys._getframe(1))] += 1
        return original(self, request, response_type)

    process._NodeProcess.send = send  # type: ignore[method-assign]

    start = time.perf_counter()
    import aws_cdk as cdk

    module = runpy.run_path(str(options.app.resolve()), run_name="jsii_calls")
    context = {**json.loads((ROOT / "cdk.json").read_text()).get("context", {}), **CLI_CONTEXT}
    with tempfile.TemporaryDirectory(prefix="sagemaker-image-jsii-calls-") as outdir:
        app = cdk.App(outdir=outdir, context=context)
        loaded = time.perf_counter()
        module["build"](app)
        built = time.perf_counter()
        trips_built = sum(by_kind.values())
        app.synth()
        done = time.perf_counter()

    print(
        f"{options.app.name}: import+load {loaded - start:.2f} s, build {built - loaded:.2f} s "
        f"({trips_built} round trips), synth {done - built:.2f} s; "
        f"{sum(by_kind.values())} round trips in all"
    )
    for title, counter in (("by caller", by_caller), ("by kind", by_kind)):
        print(f"\nround trips {title}:")
        for key, n in counter.most_common(options.top):
            print(f"  {n:6d}  {key}")


if __name__ == "__main__":
    main()
