"""CloudFormation's enumerated values (ImageVersion's, Studio's app types), typed so that typos fail in the
editor, not at deploy, and the library's own choices."""

from __future__ import annotations

from enum import Enum, StrEnum


class Processor(StrEnum):
    """The processor the image version is built for (``Processor``)."""

    CPU = "CPU"
    GPU = "GPU"


class JobType(StrEnum):
    """The SageMaker job the image version is for (``JobType``)."""

    TRAINING = "TRAINING"
    INFERENCE = "INFERENCE"
    NOTEBOOK_KERNEL = "NOTEBOOK_KERNEL"


class VendorGuidance(StrEnum):
    """The stability the vendor gives the image version (``VendorGuidance``)."""

    NOT_PROVIDED = "NOT_PROVIDED"
    STABLE = "STABLE"
    TO_BE_ARCHIVED = "TO_BE_ARCHIVED"
    ARCHIVED = "ARCHIVED"


class AppType(StrEnum):
    """The Studio app an ``AppImageConfig`` runs its image as (``KernelGateway`` etc.)."""

    KERNEL_GATEWAY = "KernelGateway"
    JUPYTER_LAB = "JupyterLab"
    CODE_EDITOR = "CodeEditor"


class ReconcileDefault(Enum):
    """``StudioAttachment(reconcile_interval=...)``'s default: the stack's interval, 10 minutes unless
    ``StudioAttachment.set_default_reconcile_interval`` set another (or None) for the stack."""

    STACK = "stack"
