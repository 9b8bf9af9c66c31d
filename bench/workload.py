"""The benchmark's workload as plain data: 5 images x 10 versions, shared by both apps.

Both apps read the same table so that any difference in their synth time comes from how the
template is written (library vs hand-written L1), never from what is in it.

Every version carries at least one floating alias, so every version gets a custom resource (the
issue's floor has one per version): its framework line (``2.1``, which moves to a later 2.1 patch
version once one is added claiming it), plus ``latest`` on the newest version of each image and
``stable`` on the one before it. An alias may name only one version per image, fixed or floating.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ACCOUNT = "123456789012"
REGION = "us-east-1"
DLC_ACCOUNT = "763104351884"  # the Deep Learning Containers registry of us-east-1
STACK_ID = "SageMakerImagesBench"
VERSIONS_PER_IMAGE = 10


@dataclass(frozen=True)
class VersionSpec:
    """One image version: its construct id, base image and the ImageVersion properties."""

    id: str
    repository: str
    tag: str
    alias: str
    aliases: list[str]
    props: dict[str, Any]  # horovod, job_type, ml_framework, processor, ...: CloudFormation strings


@dataclass(frozen=True)
class ImageSpec:
    """One image: its construct id, name and versions, oldest first."""

    id: str
    image_name: str
    display_name: str
    versions: list[VersionSpec]


# (construct id, ECR repository, MLFramework name, job type, processor,
#  [(framework version, python, CUDA or "" for CPU, Ubuntu)] oldest first)
_PYTORCH_GPU = [
    ("1.13.1", "py39", "cu117", "20.04"),
    ("2.0.1", "py310", "cu118", "20.04"),
    ("2.1.0", "py310", "cu121", "20.04"),
    ("2.2.0", "py310", "cu121", "20.04"),
    ("2.3.0", "py311", "cu121", "20.04"),
    ("2.4.0", "py311", "cu124", "22.04"),
    ("2.5.1", "py311", "cu124", "22.04"),
    ("2.6.0", "py312", "cu126", "22.04"),
    ("2.7.1", "py312", "cu128", "22.04"),
    ("2.8.0", "py312", "cu129", "22.04"),
]
_TABLE: list[tuple[str, str, str, str, str, list[tuple[str, str, str, str]]]] = [
    (
        "PyTorchTraining",
        "pytorch-training",
        "PyTorch",
        "TRAINING",
        "GPU",
        _PYTORCH_GPU,
    ),
    (
        "PyTorchInference",
        "pytorch-inference",
        "PyTorch",
        "INFERENCE",
        "CPU",
        [
            ("1.13.1", "py39", "", "20.04"),
            ("2.0.1", "py310", "", "20.04"),
            ("2.1.0", "py310", "", "20.04"),
            ("2.2.0", "py310", "", "20.04"),
            ("2.3.0", "py311", "", "20.04"),
            ("2.4.0", "py311", "", "22.04"),
            ("2.5.1", "py311", "", "22.04"),
            ("2.6.0", "py312", "", "22.04"),
            ("2.7.1", "py312", "", "22.04"),
            ("2.8.0", "py312", "", "22.04"),
        ],
    ),
    (
        "TensorFlowTraining",
        "tensorflow-training",
        "TensorFlow",
        "TRAINING",
        "GPU",
        [
            ("2.10.1", "py39", "cu112", "20.04"),
            ("2.11.0", "py39", "cu112", "20.04"),
            ("2.12.0", "py310", "cu118", "20.04"),
            ("2.13.0", "py310", "cu118", "20.04"),
            ("2.14.1", "py310", "cu118", "20.04"),
            ("2.15.0", "py310", "cu121", "20.04"),
            ("2.16.2", "py310", "cu123", "20.04"),
            ("2.17.0", "py310", "cu123", "20.04"),
            ("2.18.0", "py310", "cu125", "22.04"),
            ("2.19.0", "py312", "cu125", "22.04"),
        ],
    ),
    (
        "TensorFlowInference",
        "tensorflow-inference",
        "TensorFlow",
        "INFERENCE",
        "CPU",
        [
            ("2.10.1", "py39", "", "20.04"),
            ("2.11.0", "py39", "", "20.04"),
            ("2.12.0", "py310", "", "20.04"),
            ("2.13.0", "py310", "", "20.04"),
            ("2.14.1", "py310", "", "20.04"),
            ("2.15.0", "py310", "", "20.04"),
            ("2.16.2", "py310", "", "20.04"),
            ("2.17.0", "py310", "", "20.04"),
            ("2.18.0", "py310", "", "22.04"),
            ("2.19.0", "py312", "", "22.04"),
        ],
    ),
    (
        "NotebookKernel",
        "pytorch-training",
        "PyTorch",
        "NOTEBOOK_KERNEL",
        "GPU",
        _PYTORCH_GPU,
    ),
]


def images() -> list[ImageSpec]:
    """The 5 images with their 10 versions each, built from the table above."""
    specs = []
    for construct_id, repository, framework, job_type, processor, rows in _TABLE:
        versions = []
        for n, (fw, py, cuda, ubuntu) in enumerate(rows, start=1):
            device = f"gpu-{py}-{cuda}" if cuda else f"cpu-{py}"
            line = ".".join(fw.split(".")[:2])
            floating = [line] + (["latest"] if n == len(rows) else ["stable"] if n == len(rows) - 1 else [])
            versions.append(
                VersionSpec(
                    id=f"V{n}",
                    repository=repository,
                    tag=f"{fw}-{device}-ubuntu{ubuntu}-sagemaker",
                    alias=f"v{n}",
                    aliases=floating,
                    props={
                        "horovod": job_type == "TRAINING" and processor == "GPU",
                        "job_type": job_type,
                        "ml_framework": f"{framework}{line}",
                        "processor": processor,
                        "programming_lang": f"Python{py[2]}.{py[3:]}",
                        "release_notes": f"{framework} {fw} {job_type.lower()} on {processor}, {py}",
                        "vendor_guidance": "STABLE" if n >= len(rows) - 1 else "NOT_PROVIDED",
                    },
                )
            )
        name = f"bench-{construct_id.lower()}"
        specs.append(ImageSpec(construct_id, name, f"Bench {construct_id}", versions))
    return specs
