#!/usr/bin/env python3
"""Regenerate the upgrade fixtures: ``upgrade_app.py`` synthesized by released versions of the library,
and those versions' Studio handler files.

For each version: ``git archive`` of its commit (``constructs_lib`` and ``lambda``) into a temporary
folder, ``upgrade_app.build`` synthesized there in a subprocess (this venv's Python and Node), the
template written to ``<version>/template.json``, and ``lambda/studio_custom_images/index.py`` and
``lambda/shared/custom_resource.py`` copied to ``<version>/lambda/``. Needs the repository's history;
the tests need only what this writes. Run it with the venv's Python, from anywhere:
``.venv/bin/python tests/data/upgrade/make_templates.py``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
VERSIONS = {  # version -> the commit of main that released it
    "0.2.0": "6934a20a75f524dea2660aa835ce720cf9a8b64d",  # one Custom::SageMakerStudioCustomImage each
    "0.3.0": "98865312bea02a8189b7eba9fdfc32d6e31979db",  # one Custom::SageMakerStudioCustomImages per target
}
HANDLER_FILES = ("lambda/studio_custom_images/index.py", "lambda/shared/custom_resource.py")
SYNTH = """
import json, sys
import aws_cdk as cdk
import constructs_lib, upgrade_app
assert constructs_lib.__version__ == sys.argv[1], constructs_lib.__version__
app = cdk.App(outdir=sys.argv[2])
upgrade_app.build(app)
print(json.dumps(app.synth().get_stack_by_name(upgrade_app.STACK).template))
"""


def main() -> int:
    venv = Path(sys.prefix)
    env = {
        **os.environ,
        "PATH": f"{venv / 'node' / 'bin'}:{venv / 'bin'}:{os.environ.get('PATH', '')}",
        "JSII_NODE": str(venv / "node" / "bin" / "node"),
    }
    for version, commit in VERSIONS.items():
        with tempfile.TemporaryDirectory(prefix=f"upgrade-{version}-") as tmp:
            archive = subprocess.run(
                ["git", "-C", str(ROOT), "archive", commit, "constructs_lib", "lambda"],
                check=True,
                capture_output=True,
            ).stdout
            subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
            synth = subprocess.run(
                [sys.executable, "-c", SYNTH, version, f"{tmp}/cdk.out"],
                env={**env, "PYTHONPATH": f"{tmp}:{HERE}"},
                cwd=tmp,
                check=True,
                capture_output=True,
                text=True,
            )
            out = HERE / version
            out.mkdir(exist_ok=True)
            template = json.loads(synth.stdout)
            (out / "template.json").write_text(json.dumps(template, indent=1, sort_keys=True) + "\n")
            for name in HANDLER_FILES:
                (out / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(Path(tmp) / name, out / name)
        print(f"{version} ({commit[:7]}): {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
