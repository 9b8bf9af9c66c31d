"""The benchmark's workloads as plain data, shared by both apps of each.

``images``: 5 images x 10 versions. ``studio``: the same images, each with an app image config and six
Studio attachments (see ``studio()``).

Both apps read the same table so that any difference in their synth time comes from how the
template is written (library vs hand-written L1), never from what is in it.

Every version carries at least one floating alias, so every version gets a custom resource (the
issue's floor has one per version): its framework line (``2.1``, which moves to a later 2.1 patch
version once one is added claiming it), plus ``latest`` on the newest version of each image and
``stable`` on the one before it. An alias may name only one version per image, fixed or floating.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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


# The "studio" workload: the images above, brought to Studio.
STUDIO_STACK_ID = "SageMakerStudioBench"
EXISTING_DOMAIN_ID = "d-benchexisting01"  # a domain another team owns: custom resources
EXISTING_SPACE = "shared-kernels"
EXISTING_PROFILES = ("alice", "bob")
TEAM_DOMAIN_PROFILE = "carol"  # a profile of the app's own domain that the app does not define
# The app's own domain and profile (L1s, which the library merges into).
TEAM_DOMAIN_NAME = "bench-team"
TEAM_PROFILE_NAME = "team-lead"
TEAM_VPC_ID = "vpc-0123456789abcdef0"
TEAM_SUBNET_IDS = ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"]
TEAM_EXECUTION_ROLE = f"arn:aws:iam::{ACCOUNT}:role/bench-studio-execution"
# Entries the user wrote by hand into the app's domain and profile, which the merge keeps, first.
TEAM_DOMAIN_OWN_IMAGE: dict[str, Any] = {"ImageName": "team-base", "AppImageConfigName": "team-base-kernel"}
TEAM_PROFILE_OWN_IMAGE: dict[str, Any] = {
    "ImageName": "team-lab",
    "AppImageConfigName": "team-lab-config",
    "ImageVersionNumber": 3,
}


@dataclass(frozen=True)
class ConfigSpec:
    """An image's app image config: KernelGateway (one kernel, a file system) or JupyterLab (container)."""

    id: str
    name: str  # AppImageConfigName
    app_type: str  # "KernelGateway" or "JupyterLab"
    kernel_name: str = ""
    kernel_display_name: str = ""
    mount_path: str = ""
    uid_gid: tuple[int, int] = (1000, 100)
    arguments: list[str] = field(default_factory=list)
    environment: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AttachmentSpec:
    """One attachment of an image: where, and which version.

    ``target`` is ``existing`` (EXISTING_DOMAIN_ID, a string: the custom resource), ``team`` (the app's
    CfnDomain: merged, unless ``user_profile`` names a profile of it, which is the custom resource on
    the domain's id) or ``team-profile`` (the app's CfnUserProfile: merged). ``version`` is ``latest``
    (the image's newest ImageVersion: pinned to its number), a number, or None (SageMaker's latest).
    """

    id: str
    target: str
    user_profile: str | None = None
    space: str | None = None
    default_space_settings: bool = False
    version: str | int | None = None


@dataclass(frozen=True)
class StudioSpec:
    """One image's config and attachments, in the order the apps create them."""

    image_id: str
    config: ConfigSpec
    attachments: list[AttachmentSpec]


def studio() -> list[StudioSpec]:
    """Per image: a config (KernelGateway for images 1, 3, 5, JupyterLab for 2, 4) and its attachments.

    Five or six per image, 28 in all: 18 entries on existing targets (the existing domain's default user
    settings, one of two existing profiles, the existing space (KernelGateway) or the domain's default
    space settings (JupyterLab), and for images 1, 3, 5 a profile of the app's own domain), held by one
    custom resource per target (5), in this order; and 10 merges (the app's CfnDomain and
    CfnUserProfile).
    """
    specs = []
    for n, image in enumerate(images()):
        kernel = n % 2 == 0
        base = image.image_name.removeprefix("bench-")
        if kernel:
            config = ConfigSpec(
                id=f"{image.id}KernelConfig",
                name=f"bench-{base}-kernel",
                app_type="KernelGateway",
                kernel_name="python3",
                kernel_display_name=f"{image.display_name} (Python 3)",
                mount_path="/home/sagemaker-user",
                uid_gid=(1000, 100),
            )
        else:
            config = ConfigSpec(
                id=f"{image.id}LabConfig",
                name=f"bench-{base}-lab",
                app_type="JupyterLab",
                arguments=["--ServerApp.iopub_data_rate_limit=1e10"],
                environment={"TEAM": "ml-platform", "IMAGE_LINE": base},
            )
        attachments = [
            AttachmentSpec("Studio", "existing", version="latest"),
            AttachmentSpec("StudioProfile", "existing", user_profile=EXISTING_PROFILES[n % 2]),
            AttachmentSpec("StudioSpace", "existing", space=EXISTING_SPACE, version=len(image.versions) - 1)
            if kernel
            else AttachmentSpec("StudioSharedSpaces", "existing", default_space_settings=True),
            AttachmentSpec("TeamDomain", "team", version="latest"),
            AttachmentSpec("TeamProfile", "team-profile", version=len(image.versions)),
        ]
        if kernel:
            attachments.append(AttachmentSpec("TeamDomainProfile", "team", user_profile=TEAM_DOMAIN_PROFILE))
        specs.append(StudioSpec(image.id, config, attachments))
    return specs
