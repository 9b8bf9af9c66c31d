"""The SageMaker image (``AWS::SageMaker::Image``): the named container lineage versions belong to."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Unpack

import jsii
from aws_cdk import (
    Acknowledgment,
    Annotations,
    CfnResource,
    Duration,
    RemovalPolicy,
    Resource,
    Stack,
    Validations,
)
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct, IConstruct

from . import validation
from .arns import _split_arn, image_name_from_arn
from .enums import ReconcileDefault
from .image_role import _ecr_authorization_policy, _foreign_pull_policy, _is_mutable
from .provider import nag_resource
from .reserved_ids import _scope_for
from .stacks import _deploys_after, _root, _same_stack
from .tokens import is_unresolved

# What SageMaker needs on a base image's repository (ecr.Repository.grant_pull's repository actions);
# ecr:GetAuthorizationToken is granted apart, since it has no resource narrower than "*".
ECR_PULL_ACTIONS = ("ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage")
# What Studio needs to list and run an image: the target's execution role describes the image and
# the version it lists, and finds the latest version of an unpinned entry (SageMaker's own check).
IMAGE_READ_ACTIONS = (
    "sagemaker:DescribeImage",
    "sagemaker:DescribeImageVersion",
    "sagemaker:ListImageVersions",
)
# Warning ids are API: users acknowledge them with Annotations.of(...).acknowledge_warning(id).
IMMUTABLE_ROLE_WARNING = "@sagemaker-image-constructs/image:immutable-role"

if TYPE_CHECKING:
    from .base_image import BaseImage
    from .image_version import ImageVersion, ImageVersionOptions
    from .interfaces import IAppImageConfig, IImageVersion
    from .studio import StudioAttachment


class ImageBase(Resource):
    """What defined and imported images share: their versions' order, aliases and pull grants."""

    image_name: str
    image_arn: str
    _pull_grantee: iam.IRole | None = None

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        physical_name: str | None = None,
        environment_from_arn: str | None = None,
    ) -> None:
        super().__init__(scope, id, physical_name=physical_name, environment_from_arn=environment_from_arn)
        self._home = Stack.of(self)
        self._versions: list[Construct] = []
        self._version_stacks: list[Stack] = []  # each version's stack, known without a round trip
        self._alias_holders: dict[str, Construct] = {}
        self._granted_repositories: set[ecr.IRepository] = set()
        # Pull grants for versions in other stacks, one policy per stack (in that stack), by stack path.
        self._foreign_pull_policies: dict[str, iam.Policy] = {}
        # The image's own resource (none for imports): versions come after it, its role's grants before.
        self._image_resources: list[CfnResource] = []
        # What lists a version of this image by number (None: the latest), by id(): each waits for that
        # version (or the last one), whether declared before it or after it.
        self._waiting: dict[int, tuple[IConstruct, Stack, int | None]] = {}
        self._environment: tuple[str, str] | None = None
        # An image imported by ARN may be of another account or region than the stack it is used in.
        self._environment_from_arn = environment_from_arn is not None
        self._given_name: str = physical_name or ""  # as given: a literal, or a token (imports set it)

    def grant_read(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` describe this image and its versions: what a Studio domain's, profile's or
        space's execution role needs before SageMaker lists the image there.

        The ARNs name the image literally where its name is known, so a grantee in another stack of the
        same environment takes no reference to the image's stack. The versions are
        ``image-version/<name>/*`` (a version's number is known only at deploy time), a cdk-nag finding
        acknowledged on the grantee, for this image only.
        """
        image_arn, versions_arn = self._read_arns()
        grant = iam.Grant.add_to_principal(
            grantee=grantee, actions=list(IMAGE_READ_ACTIONS), resource_arns=[image_arn, versions_arn]
        )
        # Where the grant's policy is: under the grantee (an import's policy is its child); for a jsii
        # proxy (Role.from_role_arn), its "Policy" child, which the grant landed in.
        holder: Any = grantee
        if not isinstance(grantee, Construct):
            node = getattr(grantee, "node", None)
            holder = node.try_find_child("Policy") if node is not None else None
        if holder is not None:
            resource = nag_resource(Stack.of(holder).resolve(versions_arn))
            Validations.of(holder).acknowledge(
                Acknowledgment(
                    id=f"AwsSolutions::AwsSolutions-IAM5[Resource::{resource}]",
                    reason=f"Studio reads whichever version of image {self.node.path} it lists; SageMaker "
                    "numbers versions at deploy time, so they are granted as image-version/<name>/*",
                )
            )
        return grant

    def _read_arns(self) -> tuple[str, str]:
        """The image's ARN and its versions' (``image-version/<name>/*``)."""
        if self._environment_from_arn:
            parts = _split_arn(self.image_arn, "image", f"{self.node.path}")
            prefix = f"arn:{parts.partition}:sagemaker:{parts.region}:{parts.account}"
            return self.image_arn, f"{prefix}:image-version/{parts.resource_name}/*"
        name = self._given_name
        return (
            self._home.format_arn(service="sagemaker", resource="image", resource_name=name),
            self._home.format_arn(service="sagemaker", resource="image-version", resource_name=f"{name}/*"),
        )

    def add_version(
        self, id: str, *, base_image: BaseImage, **options: Unpack[ImageVersionOptions]
    ) -> ImageVersion:
        """Define the next version of this image (created after those added before it)."""
        from .image_version import ImageVersion

        return ImageVersion(
            _scope_for(self, id, "Versions"), id, image=self, base_image=base_image, **options
        )

    def attach_to_studio(
        self,
        id: str,
        *,
        app_image_config: IAppImageConfig,
        version: IImageVersion | int | None = None,
        domain: str | sagemaker.CfnDomain,
        user_profile: str | sagemaker.CfnUserProfile | None = None,
        space: str | sagemaker.CfnSpace | None = None,
        default_space_settings: bool = False,
        reconcile_interval: Duration | ReconcileDefault | None = ReconcileDefault.STACK,
        reconcile_on_change: bool = False,
    ) -> StudioAttachment:
        """List this image in a Studio domain, user profile or space (see ``StudioAttachment``)."""
        from .studio import StudioAttachment

        return StudioAttachment(
            _scope_for(self, id, "StudioAttachments"),
            id,
            image=self,
            app_image_config=app_image_config,
            version=version,
            domain=domain,
            user_profile=user_profile,
            space=space,
            default_space_settings=default_space_settings,
            reconcile_interval=reconcile_interval,
            reconcile_on_change=reconcile_on_change,
        )

    def _register_version(
        self,
        version: Construct,
        stack: Stack,
        resource: CfnResource,
        aliases: list[str],
        repository: ecr.IRepository | None,
    ) -> None:
        """Chain ``version`` (its ``resource``) after the previous version, reserve its aliases, and
        let the image's role pull its base image.

        CloudFormation numbers versions in creation order, and a DependsOn chain is its documented way
        to fix that order; it also keeps two versions of one image (and their aliases resources) from
        being changed at once, which SageMaker refuses ("Resource was modified concurrently"). Only
        the first version names the image itself: the chain orders the rest after it, and whatever a
        version holds (its aliases resource) follows the version through its attributes.
        """
        foreign = not _same_stack(stack, self._home)
        if foreign or self._environment_from_arn:
            self._check_environment(version, stack)
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
            previous, previous_stack = self._versions[-1], self._version_stacks[-1]
            if not _same_stack(previous_stack, stack):
                self._check_order(previous, previous_stack, version, stack)
            resource.node.add_dependency(previous)
        elif self._image_resources:
            resource.node.add_dependency(*self._image_resources)
        self._versions.append(version)
        self._version_stacks.append(stack)
        for waiting, waiting_stack, number in list(self._waiting.values()):
            if number is None or number >= len(self._versions):
                self._wait(waiting, waiting_stack, number)
        if repository is not None:
            if foreign:
                self._grant_pull_in(stack, version, resource, repository)
            else:
                self._grant_pull(repository)

    def _wait_for_version(self, waiting: IConstruct, stack: Stack, number: int | None) -> None:
        """``waiting`` (in ``stack``) lists version ``number`` of this image (None: its latest). It waits
        for that version, the ``number``-th declared (CloudFormation creates them in order), or for the
        last one until as many are declared, even if declared after it: SageMaker cannot list a version
        that does not exist yet."""
        if id(waiting) not in self._waiting:
            self._waiting[id(waiting)] = (waiting, stack, number)
            if self._versions:
                self._wait(waiting, stack, number)

    def _wait(self, waiting: IConstruct, stack: Stack, number: int | None) -> None:
        at = len(self._versions) if number is None else min(number, len(self._versions))
        version, home = self._versions[at - 1], self._version_stacks[at - 1]
        # A version's stack deploys after the image's and the previous versions' (the chain): one of
        # those cannot wait for it.
        earlier = [self._home, *self._version_stacks[: at - 1]]
        if not _same_stack(home, stack) and any(_same_stack(stack, s) for s in earlier):
            if number is not None and number <= len(self._versions):
                raise validation.ValidationError(
                    f"{waiting.node.path}: lists version {number} of image {self.node.path}, declared as "
                    f"{version.node.path} in a stack that deploys after it; list it from that stack, "
                    "or from one that deploys after it"
                )
            # The latest: the versions of the stacks before it exist by then, and SageMaker lists
            # whichever is the latest.
            del self._waiting[id(waiting)]
            return
        waiting.node.add_dependency(version)

    def _check_environment(self, version: Construct, stack: Stack) -> None:
        """Refuse a version whose stack is in another account or region than the image (both known)."""
        if self._environment is None:
            self._environment = (self.env.account, self.env.region)
        mine = self._environment
        theirs = (stack.account, stack.region)
        for own, other in zip(mine, theirs, strict=True):
            if not is_unresolved(own) and not is_unresolved(other) and own != other:
                raise validation.ValidationError(
                    f"{validation.ConstructOwner('ImageVersion', version)}: its stack "
                    f"{stack.node.path!r} is in account {theirs[0]!r}, region {theirs[1]!r}, but its image "
                    f"{self.node.path!r} is in account {mine[0]!r}, region {mine[1]!r}; a version must be "
                    "created in its image's account and region"
                )

    def _check_order(
        self, previous: Construct, previous_stack: Stack, version: Construct, stack: Stack
    ) -> None:
        """Refuse a version that CloudFormation could create only before the one declared before it.

        Chaining ``version`` after ``previous`` makes its (top-level) stack depend on the previous
        version's stack. That is a cycle when that stack already waits for this one: through the
        stacks' own dependencies, or through this image (a version's stack references the image's stack,
        and each version's stack waits for the previous version's).
        """
        before, after = _root(previous_stack), _root(stack)
        if before is after or not self._waits_for(before, after):
            return
        raise validation.ValidationError(
            f"{validation.ConstructOwner('ImageVersion', version)}: cannot be the next version of image "
            f"{self.node.path!r} after {previous.node.path!r}: stack {before.node.path!r} (of "
            f"{previous.node.path!r}) already deploys after stack {after.node.path!r} (of "
            f"{version.node.path!r}), so CloudFormation cannot create them in this order. Declare the "
            f"versions in deployment order: put {version.node.id!r} in stack {before.node.path!r} or in a "
            "stack that deploys after it, or declare it before the other version"
        )

    def _waits_for(self, source: Stack, target: Stack) -> bool:
        """Whether stack ``source`` deploys after ``target``, by stack dependencies or this image."""
        edges: dict[str, list[Stack]] = {}

        def edge(a: Stack, b: Stack) -> None:
            if a is not b:
                edges.setdefault(a.node.path, []).append(b)

        home = _root(self._home)
        roots = [_root(stack) for stack in self._version_stacks]
        for index, root in enumerate(roots):
            if self._image_resources:  # a defined image's name is a reference to its stack
                edge(root, home)
            if index:
                edge(root, roots[index - 1])
        return _deploys_after(source, target, edges)

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

    def _grant_pull_in(
        self, stack: Stack, version: Construct, resource: CfnResource, repository: ecr.IRepository
    ) -> None:
        """The pull grant of a version in another stack than its image, kept in the version's stack
        (``_foreign_pull_policy``)."""
        if self._pull_grantee is not None:
            policy = _foreign_pull_policy(self._foreign_pull_policies, self._pull_grantee, stack, version)
            policy.add_statements(
                iam.PolicyStatement(actions=list(ECR_PULL_ACTIONS), resources=[repository.repository_arn])
            )
            resource.node.add_dependency(policy)


@jsii.implements(iam.IGrantable)
class Image(ImageBase):
    """A SageMaker custom image with a generated least-privilege role.

    The generated role trusts SageMaker and may pull only from the ECR repositories its versions'
    base images come from (plus ``ecr:GetAuthorizationToken``, which has no narrower resource).
    It is an ``iam.IGrantable``: ``repository.grant_pull(image)`` grants to its role.
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
        removal_policy: RemovalPolicy | None = None,
    ) -> None:
        """
        :param image_name: ``ImageName``: 1-63 letters, digits, and single ``-`` or ``.`` between them.
        :param role: the role SageMaker assumes for this image. Default: a generated role that may
            pull only its versions' base images. A given mutable role receives the same grants; an
            immutable one (``mutable=False``, ``without_policy_updates()``) receives none, and a synth
            warning names what it needs.
        :param display_name: ``ImageDisplayName``, 1-128 characters. Default: none.
        :param description: ``ImageDescription``, 1-512 characters. Default: none.
        :param removal_policy: what happens to the image when it leaves the stack. Default:
            ``RemovalPolicy.DESTROY`` (CloudFormation's default for the resource).
        """
        super().__init__(scope, id, physical_name=image_name)
        owner = validation.ConstructOwner("Image", self)
        validation.check_required(owner, "image_name (ImageName)", image_name, "the image's name")
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
        mutable = role is None or _is_mutable(role)
        self._pull_grantee = self.role if mutable else None
        resource = sagemaker.CfnImage(
            self,
            "Resource",
            image_name=image_name,
            image_role_arn=self.role.role_arn,
            image_display_name=display_name,
            image_description=description,
        )
        if mutable:
            # The role comes first through ImageRoleArn; its policies must too.
            resource.node.add_dependency(_ecr_authorization_policy(self, self._home, self.role))
        else:
            Annotations.of(self).add_warning_v2(
                IMMUTABLE_ROLE_WARNING,
                f"The role {self.role.role_arn} is immutable, so this library grants it nothing. Give it "
                f"ecr:GetAuthorizationToken on '*' and {', '.join(ECR_PULL_ACTIONS)} on the ECR "
                "repositories of this image's base images, and trust sagemaker.amazonaws.com",
            )
        self._image_resources.append(resource)
        if removal_policy is not None:
            resource.apply_removal_policy(removal_policy)
        self.image_arn: str = self._get_resource_arn_attribute(
            resource.attr_image_arn,
            service="sagemaker",
            resource="image",
            resource_name=image_name,  # the physical name, as given: no round trip to read it back
        )
        self.image_name: str = self._get_resource_name_attribute(image_name)

    @property
    def grant_principal(self) -> iam.IPrincipal:
        """The role's principal, for granting the image access to more (``iam.IGrantable``)."""
        return self.role.grant_principal

    @staticmethod
    def from_image_name(scope: Construct, id: str, image_name: str) -> ImageBase:
        """Import an image of the stack's account and region by name (a token is allowed)."""
        owner = f"Image.from_image_name {id!r}"
        validation.check_required(owner, "image_name", image_name, "the image's name")
        validation.check(owner, "image_name", image_name, validation.IMAGE_NAME)
        arn = Stack.of(scope).format_arn(service="sagemaker", resource="image", resource_name=image_name)
        return _ImportedImage(scope, id, image_name=image_name, image_arn=arn)

    @staticmethod
    def from_image_arn(scope: Construct, id: str, image_arn: str) -> ImageBase:
        """Import an image by its ARN, which must be a literal (its name is parsed from it)."""
        owner = f"Image.from_image_arn {id!r}"
        validation.check_required(owner, "image_arn", image_arn, "the image's ARN")
        if is_unresolved(image_arn):
            raise validation.ValidationError(
                f"{owner}: the ARN is an unresolved token ({image_arn}), so the image "
                "name cannot be parsed from it; use Image.from_image_name(scope, id, image_name) instead"
            )
        name = image_name_from_arn(image_arn, owner)
        return _ImportedImage(scope, id, image_name=name, image_arn=image_arn, environment_from_arn=image_arn)


# The child ids CDK gives a meaning: an L2's primary resource, and the id hidden from logical ids.


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
        self.image_name: str = image_name
        self._given_name = image_name
        self.image_arn: str = image_arn
