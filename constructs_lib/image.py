"""The SageMaker image (``AWS::SageMaker::Image``): the named container lineage versions belong to."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, Unpack

from aws_cdk import (
    Acknowledgment,
    Arn,
    ArnComponents,
    ArnFormat,
    CfnResource,
    Resource,
    Stack,
    Validations,
)
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct, IConstruct, IDependable

from . import validation
from .tokens import is_unresolved

# What SageMaker needs on a base image's repository (ecr.Repository.grant_pull's repository actions);
# ecr:GetAuthorizationToken is granted apart, since it has no resource narrower than "*".
ECR_PULL_ACTIONS = ("ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage")

if TYPE_CHECKING:
    from .base_image import BaseImage
    from .image_version import ImageVersion, ImageVersionOptions


class IImage(IConstruct, Protocol):
    """A SageMaker image, defined in this app or imported."""

    @property
    def image_name(self) -> str:
        """The image's name (``ImageName``)."""
        ...

    @property
    def image_arn(self) -> str:
        """The image's ARN."""
        ...


class ImageBase(Resource):
    """What defined and imported images share: their versions' order, aliases and pull grants."""

    image_name: str
    image_arn: str
    _pull_grantee: iam.IGrantable | None = None

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        physical_name: str | None = None,
        environment_from_arn: str | None = None,
    ) -> None:
        super().__init__(scope, id, physical_name=physical_name, environment_from_arn=environment_from_arn)
        self._versions: list[Construct] = []
        self._alias_holders: dict[str, Construct] = {}
        self._granted_repositories: set[ecr.IRepository] = set()
        # The image's own resource (none for imports): versions come after it, its role's grants before.
        self._image_resources: list[CfnResource] = []

    def add_version(
        self, id: str, *, base_image: BaseImage, **options: Unpack[ImageVersionOptions]
    ) -> ImageVersion:
        """Define the next version of this image (created after those added before it)."""
        from .image_version import ImageVersion

        return ImageVersion(self, id, image=self, base_image=base_image, **options)

    def _register_version(self, version: Construct, resource: CfnResource, aliases: list[str]) -> None:
        """Chain ``version`` (its ``resource``) after the previous version and reserve its aliases.

        CloudFormation numbers versions in creation order, and a DependsOn chain is its documented way
        to fix that order; it also keeps two versions of one image (and their aliases resources) from
        being changed at once, which SageMaker refuses ("Resource was modified concurrently"). Only
        the first version names the image itself: the chain orders the rest after it, and whatever a
        version holds (its aliases resource) follows the version through its attributes.
        """
        for alias in aliases:
            if is_unresolved(alias):
                continue
            holder = self._alias_holders.get(alias)
            if holder is not None:
                raise validation.ValidationError(
                    f"{validation.ConstructOwner('ImageVersion', version)}: alias {alias!r} is already "
                    f"claimed by {holder.node.path!r}; SageMaker lets an alias name only one version of "
                    "an image"
                )
            self._alias_holders[alias] = version
        if self._versions:
            resource.node.add_dependency(self._versions[-1])
        elif self._image_resources:
            resource.node.add_dependency(*self._image_resources)
        self._versions.append(version)

    def _grant_pull(self, repository: ecr.IRepository) -> None:
        """Let the image's role pull the base image (a no-op for imported images and immutable roles).

        Once per repository: many versions of an image usually share one (one import per stack).
        """
        if self._pull_grantee is None or repository in self._granted_repositories:
            return
        self._granted_repositories.add(repository)
        grant = repository.grant(self._pull_grantee, *ECR_PULL_ACTIONS)
        # SageMaker checks the role's access when it creates the image: the policy comes first.
        grant.apply_before(*self._image_resources)


class Image(ImageBase):
    """A SageMaker custom image with a generated least-privilege role.

    The generated role trusts SageMaker and may pull only from the ECR repositories its versions'
    base images come from (plus ``ecr:GetAuthorizationToken``, which has no narrower resource).
    Tags: use ``Tags.of(image)``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        image_name: str,
        role: iam.IRole | None = None,
        display_name: str | None = None,
        description: str | None = None,
    ) -> None:
        """
        :param image_name: ``ImageName``: 1-63 letters, digits, and single ``-`` or ``.`` between them.
        :param role: the role SageMaker assumes for this image. Default: a generated role that may
            pull only its versions' base images; a given mutable role receives the same grants.
        :param display_name: ``ImageDisplayName``, 1-128 characters. Default: none.
        :param description: ``ImageDescription``, 1-512 characters. Default: none.
        """
        super().__init__(scope, id, physical_name=image_name)
        owner = validation.ConstructOwner("Image", self)
        validation.check(owner, "image_name (ImageName)", image_name, validation.IMAGE_NAME)
        validation.check(
            owner, "display_name (ImageDisplayName)", display_name, validation.IMAGE_DISPLAY_NAME
        )
        validation.check(owner, "description (ImageDescription)", description, validation.IMAGE_DESCRIPTION)

        self.role: iam.IRole = role or iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description="Lets SageMaker pull the base images of this SageMaker image's versions",
        )
        self._pull_grantee = self.role
        ecr_authorization = self._grant_ecr_authorization(generated_role=role is None)
        resource = sagemaker.CfnImage(
            self,
            "Resource",
            image_name=image_name,
            image_role_arn=self.role.role_arn,
            image_display_name=display_name,
            image_description=description,
        )
        # The role comes first through ImageRoleArn; its policies must too.
        resource.node.add_dependency(*ecr_authorization)
        self._image_resources.append(resource)
        self.image_arn = self._get_resource_arn_attribute(
            resource.attr_image_arn,
            service="sagemaker",
            resource="image",
            resource_name=self._physical_name,
        )
        self.image_name = self._get_resource_name_attribute(image_name)

    def _grant_ecr_authorization(self, *, generated_role: bool) -> list[IDependable]:
        """Grant ``ecr:GetAuthorizationToken``, which AWS offers on no resource narrower than "*".

        For the generated role it sits alone in a policy of its own, so that the cdk-nag finding it
        raises is acknowledged there and nowhere else; a given role gets it like any other grant.
        """
        if not generated_role:
            statement = _ecr_authorization_statement()
            grant = iam.Grant.add_to_principal(
                grantee=self.role, actions=statement.actions, resource_arns=statement.resources
            )
            return [grant]
        policy = iam.Policy(
            self, "EcrAuthorizationPolicy", statements=[_ecr_authorization_statement()], roles=[self.role]
        )
        Validations.of(policy).acknowledge(
            Acknowledgment(
                id="AwsSolutions::AwsSolutions-IAM5[Resource::*]",
                reason="ecr:GetAuthorizationToken authorizes registry logins and supports no resource "
                "narrower than '*'; image pulls are limited to the base images' repositories",
            )
        )
        return [policy]

    @property
    def grant_principal(self) -> iam.IPrincipal:
        """The role's principal, for granting the image access to more (``IGrantable``)."""
        return self.role.grant_principal

    @staticmethod
    def from_image_name(scope: Construct, id: str, image_name: str) -> ImageBase:
        """Import an image of the stack's account and region by name (a token is allowed)."""
        validation.check(f"Image.from_image_name {id!r}", "image_name", image_name, validation.IMAGE_NAME)
        arn = Stack.of(scope).format_arn(service="sagemaker", resource="image", resource_name=image_name)
        return _ImportedImage(scope, id, image_name=image_name, image_arn=arn)

    @staticmethod
    def from_image_arn(scope: Construct, id: str, image_arn: str) -> ImageBase:
        """Import an image by its ARN, which must be a literal (its name is parsed from it)."""
        if is_unresolved(image_arn):
            raise validation.ValidationError(
                f"Image.from_image_arn {id!r}: the ARN is an unresolved token ({image_arn}), so the image "
                "name cannot be parsed from it; use Image.from_image_name(scope, id, image_name) instead"
            )
        parts = _split_arn(image_arn, "image", f"Image.from_image_arn {id!r}")
        name = parts.resource_name or ""
        validation.check(f"Image.from_image_arn {id!r}", "image name", name, validation.IMAGE_NAME)
        return _ImportedImage(scope, id, image_name=name, image_arn=image_arn, environment_from_arn=image_arn)


class _ImportedImage(ImageBase):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        image_name: str,
        image_arn: str,
        environment_from_arn: str | None = None,
    ) -> None:
        super().__init__(scope, id, environment_from_arn=environment_from_arn)
        self.image_name = image_name
        self.image_arn = image_arn


def _ecr_authorization_statement() -> iam.PolicyStatement:
    return iam.PolicyStatement(actions=["ecr:GetAuthorizationToken"], resources=["*"])


def _split_arn(arn: str, resource: str, owner: str) -> ArnComponents:
    """Split a SageMaker ARN of the given resource type, or say what shape was expected."""
    expected = f"arn:<partition>:sagemaker:<region>:<account>:{resource}/<name>"
    try:
        parts = Arn.split(arn, ArnFormat.SLASH_RESOURCE_NAME)
    except Exception as error:  # jsii raises a generic error for malformed ARNs
        raise validation.ValidationError(f"{owner}: {arn!r} is not an ARN of the form {expected}") from error
    if parts.service != "sagemaker" or parts.resource != resource or not parts.resource_name:
        raise validation.ValidationError(f"{owner}: {arn!r} is not an ARN of the form {expected}")
    return parts
