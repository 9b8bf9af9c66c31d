"""What an image's role needs beyond its grants: whether grants land in it at all, and the one policy
that must name "*" (``ecr:GetAuthorizationToken``), kept apart so its cdk-nag finding is acknowledged
there only."""

from __future__ import annotations

from weakref import WeakKeyDictionary

from aws_cdk import Acknowledgment, Stack, Validations
from aws_cdk import aws_iam as iam
from constructs import Construct, Dependable


def _is_mutable(role: iam.IRole) -> bool:
    """Whether grants to ``role`` land in its policies.

    An immutable role (``Role.from_role_arn(..., mutable=False)``, ``without_policy_updates()``, a
    role of another account) ignores grants, and forwards dependencies to the role it wraps; that
    is the only public trait that tells it apart, since jsii hands both kinds to Python as ``IRole``.
    """
    if iam.Role.is_role(role):
        return True
    roots = Dependable.of(role).dependency_roots
    return [root.node.path for root in roots] == [role.node.path]


# By stack, then by role: the role object itself, since jsii hands Python one object per construct, and
# a key by path would cost two round trips per image to read it.
_AUTHORIZATION_POLICIES: WeakKeyDictionary[Stack, dict[iam.IRole, iam.Policy]] = WeakKeyDictionary()


def _ecr_authorization_policy(image: Construct, home: Stack, role: iam.IRole) -> iam.Policy:
    """``ecr:GetAuthorizationToken``, which AWS offers on no resource narrower than "*".

    It sits alone in a policy of its own, so that the cdk-nag finding it raises is acknowledged there
    and nowhere else; one per role and stack, since every inline policy counts toward the role's
    10,240 characters, and images that share a role need it once.
    """
    policies = _AUTHORIZATION_POLICIES.setdefault(home, {})
    policy = policies.get(role)
    if policy is None:
        statement = iam.PolicyStatement(actions=["ecr:GetAuthorizationToken"], resources=["*"])
        policy = policies[role] = iam.Policy(
            image, "EcrAuthorizationPolicy", statements=[statement], roles=[role]
        )
        Validations.of(policy).acknowledge(
            Acknowledgment(
                id="AwsSolutions::AwsSolutions-IAM5[Resource::*]",
                reason="ecr:GetAuthorizationToken authorizes registry logins and supports no resource "
                "narrower than '*'; image pulls are limited to the base images' repositories",
            )
        )
    return policy


def _foreign_pull_policy(
    policies: dict[str, iam.Policy], role: iam.IRole, stack: Stack, version: Construct
) -> iam.Policy:
    """The policy of ``stack`` (one per stack, made under its first version) that lets the image's role
    pull the base images of its versions there.

    In the image's stack, a policy naming a repository of the version's stack would make the image's
    stack depend on the version's, which depends on the image's: a cycle. So the statements go into a
    policy of the version's stack, attached to the image's role, and the version waits for it.
    """
    policy = policies.get(stack.node.path)
    if policy is None:
        policy = policies[stack.node.path] = iam.Policy(version, "BaseImagePullPolicy", roles=[role])
    return policy
