"""A version of a SageMaker image (``AWS::SageMaker::ImageVersion``): one container, numbered in order."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypedDict

from aws_cdk import CustomResource, RemovalPolicy, Resource, Stack
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from . import validation
from .aliases import add_floating_aliases
from .arns import _split_arn, image_name_from_arn
from .base_image import BaseImage
from .base_image_check import _BaseImageCheck
from .enums import JobType, Processor, VendorGuidance
from .image import ImageBase
from .interfaces import IImage, IImageVersion
from .tokens import is_unresolved


class ImageVersionOptions(TypedDict, total=False):
    """The optional keywords of ``ImageVersion``, shared with ``Image.add_version``."""

    alias: str
    aliases: Sequence[str]
    horovod: bool
    job_type: JobType | str
    ml_framework: str
    processor: Processor | str
    programming_lang: str
    release_notes: str
    vendor_guidance: VendorGuidance | str
    removal_policy: RemovalPolicy
    check_base_image: bool


class ImageVersion(Resource):
    """A version of a SageMaker image, validated at synth time by SageMaker's own rules.

    Versions of one image are created in the order they are declared: each depends on the previous
    one, which is how CloudFormation fixes their numbers.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        image: IImage,
        base_image: BaseImage,
        alias: str | None = None,
        aliases: Sequence[str] | None = None,
        horovod: bool | None = None,
        job_type: JobType | str | None = None,
        ml_framework: str | None = None,
        processor: Processor | str | None = None,
        programming_lang: str | None = None,
        release_notes: str | None = None,
        vendor_guidance: VendorGuidance | str | None = None,
        removal_policy: RemovalPolicy | None = None,
        check_base_image: bool = True,
    ) -> None:
        """
        :param image: the image this is a version of (an ``Image`` or an import).
        :param base_image: ``BaseImage``: where the container comes from; see ``BaseImage``.
        :param alias: ``Alias``, set when the version is created. 1-128 letters, digits, ``-``, ``_``,
            ``.``, not starting with ``.`` or ``-``; unique among the image's versions. Default: none.
        :param aliases: floating aliases, kept on this version by a custom resource that moves each
            one here from whichever version of the image holds it (``latest``, ``stable``). Same rule
            as alias; no repeats, not ``alias`` itself, unique among the image's versions. Default: none.
        :param horovod: ``Horovod``: whether the image supports distributed training with Horovod.
            Default: not set (SageMaker's default, false).
        :param job_type: ``JobType``: a ``JobType`` or its string. Default: not set.
        :param ml_framework: ``MLFramework``, e.g. ``PyTorch1.8`` or ``TensorFlow 2.14.1``: letters,
            an optional space, then ``major.minor[.patch]``. Default: not set.
        :param processor: ``Processor``: a ``Processor`` or its string. Default: not set.
        :param programming_lang: ``ProgrammingLang``, e.g. ``Python3.10``; same rule as ml_framework.
            Default: not set.
        :param release_notes: ``ReleaseNotes``, 1-255 characters. Default: not set.
        :param vendor_guidance: ``VendorGuidance``: a ``VendorGuidance`` or its string. Default: not set.
        :param removal_policy: what happens to the version, and to its floating aliases, when it leaves
            the stack; ``RETAIN`` keeps both. Default: ``RemovalPolicy.DESTROY``.
        :param check_base_image: before the version is created, check at deploy time that its base
            image's tag or digest exists in ECR and is ``linux/amd64`` (``Custom::SageMakerBaseImageCheck``,
            one per stack); a failed check means no SageMaker call. False skips it, for an image whose
            registry the check's function cannot read. A base image whose repository is unknown at
            synth (a ``from_uri`` token) is not checked. Default: True.
        """
        super().__init__(scope, id)
        owner = validation.ConstructOwner("ImageVersion", self)
        validation.check_required(owner, "image", image, "an IImage (an Image, or an import)")
        validation.check_required(owner, "base_image (BaseImage)", base_image, "a BaseImage")
        validation.check_type(owner, "base_image (BaseImage)", base_image, BaseImage, "a BaseImage")
        validation.check_type(owner, "alias (Alias)", alias, str, "one alias as a string")
        validation.check(owner, "alias (Alias)", alias, validation.ALIAS)
        validation.check(owner, "ml_framework (MLFramework)", ml_framework, validation.ML_FRAMEWORK)
        validation.check(
            owner, "programming_lang (ProgrammingLang)", programming_lang, validation.PROGRAMMING_LANG
        )
        validation.check(owner, "release_notes (ReleaseNotes)", release_notes, validation.RELEASE_NOTES)

        # A version made by image.add_version is in the image's stack: no round trip to ask.
        stack = image._home if isinstance(image, ImageBase) and scope is image else Stack.of(self)
        self._home = stack  # what a Studio attachment pinning this version would ask for again
        config = base_image._bind_in(self, stack)
        validation.check(owner, "base_image (BaseImage)", config.image_uri, validation.BASE_IMAGE)

        floating = validation.check_aliases(owner, "aliases", aliases or [])
        if alias is not None and not is_unresolved(floating) and alias in floating:
            raise validation.ValidationError(
                f"{owner}: invalid aliases: {alias!r} is already the version's alias (Alias)"
            )
        # The properties CloudFormation updates in place; the floating aliases re-run when they change.
        mutable: dict[str, Any] = {
            "alias": alias,
            "horovod": horovod,
            "job_type": validation.check_enum(owner, "job_type (JobType)", job_type, JobType),
            "ml_framework": ml_framework,
            "processor": validation.check_enum(owner, "processor (Processor)", processor, Processor),
            "programming_lang": programming_lang,
            "release_notes": release_notes,
            "vendor_guidance": validation.check_enum(
                owner, "vendor_guidance (VendorGuidance)", vendor_guidance, VendorGuidance
            ),
        }

        self.image = image
        self.aliases = floating
        self.resource: sagemaker.CfnImageVersion = sagemaker.CfnImageVersion(
            self, "Resource", image_name=image.image_name, base_image=config.image_uri, **mutable
        )
        # The check this version waits for, and its key there (base_image_digest names it on demand).
        self._check: tuple[CustomResource, str] | None = None
        if check_base_image and config.repository is not None:
            check, cfn, key = _BaseImageCheck.of(stack).add(config.image_uri, config.repository)
            self.resource.add_resource_dependency(cfn)  # one round trip, where node.add_dependency takes two
            self._check = (check, key)

        if isinstance(image, ImageBase):
            claimed = [] if is_unresolved(floating) else floating
            image._register_version(
                self, stack, self.resource, ([alias] if alias else []) + claimed, config.repository
            )
        self._aliases_resource: CustomResource | None = None
        if floating:
            self._aliases_resource = add_floating_aliases(
                self,
                stack=stack,
                image_name=image.image_name,
                version_number=self.version,
                aliases=floating,
                config=mutable,
            )
        if removal_policy is not None:
            self.apply_removal_policy(removal_policy)

    def apply_removal_policy(self, policy: RemovalPolicy) -> None:
        """Apply ``policy`` to the version and to its floating aliases: a kept version keeps them."""
        super().apply_removal_policy(policy)
        if self._aliases_resource is not None:
            self._aliases_resource.apply_removal_policy(policy)

    # Read from the resource when asked: each read is a jsii round trip, and most go unread.
    @property
    def image_version_arn(self) -> str:
        """The version's ARN."""
        return self.resource.attr_image_version_arn

    @property
    def version(self) -> int | float:
        """The version number SageMaker assigns (1, 2, ...), known at deploy time."""
        return self.resource.attr_version

    @property
    def container_image(self) -> str:
        """The registry path of the container image SageMaker made for this version."""
        return self.resource.attr_container_image

    @property
    def image_arn(self) -> str:
        """The ARN of the image this is a version of."""
        return self.resource.attr_image_arn

    @property
    def base_image_digest(self) -> str | None:
        """The digest the deploy-time check resolved the base image to (``sha256:...`` of its
        linux/amd64 manifest, a GetAtt): the exact bytes of this version. None when the check is off
        or the repository is unknown at synth."""
        if self._check is None:
            return None
        check, key = self._check
        return check.get_att_string(f"Digest{key}")

    @staticmethod
    def from_image_version_arn(scope: Construct, id: str, image_version_arn: str) -> IImageVersion:
        """Import a version by its ARN, which must be a literal (image name and number are parsed)."""
        owner = f"ImageVersion.from_image_version_arn {id!r}"
        validation.check_required(owner, "image_version_arn", image_version_arn, "the version's ARN")
        if is_unresolved(image_version_arn):
            raise validation.ValidationError(
                f"{owner}: the ARN is an unresolved token ({image_version_arn}), so the image name and "
                "version cannot be parsed from it; pass a literal ARN, or use the ImageVersion's own "
                "attributes where it is defined in this app"
            )
        parts = _split_arn(image_version_arn, "image-version", owner)
        image_name, _, number = (parts.resource_name or "").rpartition("/")
        if (
            not image_name
            or not validation.VERSION_NUMBER.fullmatch(number)
            or int(number) > validation.INT32_MAX
        ):
            raise validation.ValidationError(
                f"{owner}: {image_version_arn!r} is not an ARN of the form "
                "arn:<partition>:sagemaker:<region>:<account>:image-version/<image-name>/<version>, where "
                f"<version> is a whole number from 1 to {validation.INT32_MAX} without leading zeros"
            )
        image_arn = f"arn:{parts.partition}:sagemaker:{parts.region}:{parts.account}:image/{image_name}"
        image_name_from_arn(image_arn, owner)
        return _ImportedImageVersion(
            scope, id, image_version_arn=image_version_arn, image_arn=image_arn, version=int(number)
        )


class _ImportedImageVersion(Resource):
    def __init__(
        self, scope: Construct, id: str, *, image_version_arn: str, image_arn: str, version: int
    ) -> None:
        super().__init__(scope, id, environment_from_arn=image_version_arn)
        # A Studio attachment compares the ARN's account and region with its stacks' (like an image's).
        self._environment_from_arn = True
        self.image_version_arn = image_version_arn
        self.version = version
        from .image import Image

        self.image: IImage = Image.from_image_arn(self, "Image", image_arn)
        self.image_arn = image_arn
