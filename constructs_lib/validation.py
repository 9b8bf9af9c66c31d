"""SageMaker's and ECR's own rules for the values this library puts in a template, in one place.

The patterns are the AWS resource schemas' (the same the SageMaker API enforces). The service matches
them as Java regexes: the whole value, with ``\\d`` meaning ASCII digits only, hence ``re.fullmatch``
with ``re.ASCII``. A value that is an unresolved token is only known at deploy time and passes through.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from typing import TypeVar

from constructs import IConstruct

from .tokens import is_unresolved

E = TypeVar("E", bound=Enum)


class ValidationError(ValueError):
    """A property value AWS would reject; raised at synth time instead of failing the deployment."""


class ConstructOwner:
    """Names a construct in an error ("ImageVersion 'Stack/Image/V1'"), reading its path only then.

    Reading a path is a jsii round trip; validation of a valid app needs none.
    """

    def __init__(self, kind: str, construct: IConstruct) -> None:
        self._kind = kind
        self._construct = construct

    def __str__(self) -> str:
        return f"{self._kind} {self._construct.node.path!r}"

    @property
    def construct(self) -> IConstruct:
        return self._construct


@dataclass(frozen=True)
class Rule:
    """Length bounds and an optional whole-value pattern for one property."""

    min_length: int
    max_length: int
    pattern: str | None = None

    def violation(self, value: str) -> str | None:
        """What is wrong with ``value``, or None when AWS accepts it."""
        if not self.min_length <= len(value) <= self.max_length:
            return f"length must be {self.min_length}-{self.max_length} characters (got {len(value)})"
        if self.pattern is not None and not re.fullmatch(self.pattern, value, re.ASCII):
            return f"must match the pattern {self.pattern}"
        return None


# AWS::SageMaker::Image
IMAGE_NAME = Rule(1, 63, r"^[a-zA-Z0-9]([-.]?[a-zA-Z0-9])*$")
IMAGE_DISPLAY_NAME = Rule(1, 128, r"^[A-Za-z0-9 -_]+$")  # " -_" is the range space..underscore
IMAGE_DESCRIPTION = Rule(1, 512)

# AWS::SageMaker::ImageVersion
ALIAS = Rule(1, 128, r"(?!^[.-])^([a-zA-Z0-9-_.]+)$")
BASE_IMAGE = Rule(1, 255)
ML_FRAMEWORK = Rule(1, 128, r"^[a-zA-Z]+ ?\d+\.\d+(\.\d+)?$")
PROGRAMMING_LANG = Rule(1, 128, r"^[a-zA-Z]+ ?\d+\.\d+(\.\d+)?$")
RELEASE_NOTES = Rule(1, 255)

# Studio targets (botocore's SageMaker model: DescribeDomain, DescribeUserProfile, DescribeSpace)
DOMAIN_ID = Rule(1, 63, r"d-(-*[a-z0-9]){1,61}")
STUDIO_NAME = Rule(1, 63, r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")  # UserProfileName, SpaceName

# An image version's number, as SageMaker gives it (an Integer >= 1) and as it stands in an ARN.
VERSION_NUMBER = re.compile(r"[1-9][0-9]*", re.ASCII)
INT32_MAX = 2**31 - 1

# ECR (for the base-image helpers that build a registry path)
ECR_REPOSITORY_NAME = Rule(2, 256, r"(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*")
ECR_TAG = Rule(1, 128, r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}")


def check(owner: object, prop: str, value: str | None, rule: Rule) -> None:
    """Raise a ValidationError naming ``owner.prop``, the value and the rule when AWS would reject it."""
    if value is None or is_unresolved(value):
        return
    problem = rule.violation(value)
    if problem is not None:
        raise ValidationError(f"{owner}: invalid {prop} {value!r}: {problem}")


def check_required(owner: object, prop: str, value: object, expected: str) -> None:
    """Refuse None for a required keyword (``app.node.try_get_context(...)`` gives None when no ``-c``
    was passed), which would otherwise pass every optional check and synthesize a broken template."""
    if value is None:
        raise ValidationError(f"{owner}: {prop} is required, got None (expected {expected})")


def check_enum(owner: object, prop: str, value: E | str | None, enum: type[E]) -> str | None:
    """Accept an enum member or its CloudFormation string; return the string for the template."""
    if value is None:
        return None
    if isinstance(value, enum):
        return str(value.value)
    if isinstance(value, str) and is_unresolved(value):
        return value
    allowed = [str(member.value) for member in enum]
    if value not in allowed:
        raise ValidationError(f"{owner}: invalid {prop} {value!r}: must be one of {', '.join(allowed)}")
    return str(value)


def check_type(owner: object, prop: str, value: object, kind: type, expected: str) -> None:
    """Refuse a value of the wrong Python type (not a token) with the type expected, not a TypeError."""
    if value is None or isinstance(value, kind) or is_unresolved(value):
        return
    raise ValidationError(
        f"{owner}: invalid {prop} {value!r}: expected {expected}, got {type(value).__name__}"
    )


def check_aliases(owner: object, prop: str, aliases: Iterable[str]) -> list[str]:
    """Check each alias by the Alias rule and refuse repeats, which SageMaker would reject.

    A list token (a CommaDelimitedList parameter) is only known at deploy time and is returned as is.
    """
    if is_unresolved(aliases):
        return aliases  # type: ignore[return-value]
    if isinstance(aliases, str | bytes) or not isinstance(aliases, Iterable):
        raise ValidationError(
            f"{owner}: invalid {prop} {aliases!r}: expected a list of alias strings, such as [{aliases!r}], "
            f"got {type(aliases).__name__}"
        )
    seen: list[str] = []
    for alias in aliases:
        check_type(owner, prop, alias, str, "a list of alias strings")
        check(owner, prop, alias, ALIAS)
        if alias in seen and not is_unresolved(alias):
            raise ValidationError(f"{owner}: invalid {prop}: {alias!r} is listed twice")
        seen.append(alias)
    return seen


# AWS::SageMaker::AppImageConfig
# The rules of cfn-lint's copy of the resource schema; tests/test_app_image_config.py compares them with it.

# What Java's "." (the service's regexes) refuses to match, where Python's refuses only "\n".
JAVA_LINE_TERMINATORS = frozenset("\n\r\u0085\u2028\u2029")


@dataclass(frozen=True)
class SingleLineRule(Rule):
    """A Rule whose pattern ends in ``.*`` or ``.+``: the whole value must be one line, as Java reads it.

    Python's ``.`` matches ``\\r``, U+0085, U+2028 and U+2029; Java's does not, so the service
    refuses a value holding any of them even where ``re.fullmatch`` accepts it.
    """

    def violation(self, value: str) -> str | None:
        """What is wrong with ``value``, or None when AWS accepts it."""
        problem = super().violation(value)
        if problem is None and not JAVA_LINE_TERMINATORS.isdisjoint(value):
            return f"must match the pattern {self.pattern} (one line: '.' matches no line break)"
        return problem


@dataclass(frozen=True)
class NotBlankRule(SingleLineRule):
    """``^(?!\\s*$).+``, with "blank" as wide as any reader of the schema takes it.

    Java's ``\\s`` is ASCII, but the schema's own dialect (JSON Schema patterns are ECMAScript regexes,
    as CDK's template checks read them) and cfn-lint's (Python) also count Unicode spaces such as U+00A0
    and U+3000, and ECMAScript U+FEFF: a value blank to any of them is refused.
    """

    def violation(self, value: str) -> str | None:
        """What is wrong with ``value``, or None when AWS accepts it."""
        problem = super().violation(value)
        if problem is None and all(c.isspace() or c == "\ufeff" for c in value):
            return f"must match the pattern {self.pattern} (not blank: only white space)"
        return problem


@dataclass(frozen=True)
class ItemCount:
    """How many items a list property may hold (``minItems``, ``maxItems``)."""

    min_items: int
    max_items: int


@dataclass(frozen=True)
class IntRange:
    """The bounds of an integer property (``minimum``, ``maximum``)."""

    minimum: int
    maximum: int


NOT_BLANK = r"^(?!\s*$).+"
APP_IMAGE_CONFIG_NAME = Rule(1, 63, r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
KERNEL_SPECS = ItemCount(1, 1)
KERNEL_NAME = Rule(1, 1024)
KERNEL_DISPLAY_NAME = Rule(1, 1024)
MOUNT_PATH = SingleLineRule(1, 1024, r"^/.*")
DEFAULT_UID = IntRange(0, 65535)
DEFAULT_GID = IntRange(0, 65535)
CONTAINER_ARGUMENTS = ItemCount(0, 50)
CONTAINER_ARGUMENT = NotBlankRule(1, 64, NOT_BLANK)
CONTAINER_ENTRYPOINT = ItemCount(0, 1)
CONTAINER_ENTRYPOINT_ITEM = NotBlankRule(1, 256, NOT_BLANK)
CONTAINER_ENVIRONMENT = ItemCount(0, 25)
CONTAINER_ENVIRONMENT_KEY = NotBlankRule(1, 256, NOT_BLANK)
CONTAINER_ENVIRONMENT_VALUE = NotBlankRule(1, 256, NOT_BLANK)


def check_count(owner: object, prop: str, count: int, allowed: ItemCount) -> None:
    """Raise a ValidationError when a list of ``count`` items is too short or too long."""
    if allowed.min_items <= count <= allowed.max_items:
        return
    if allowed.min_items == allowed.max_items:
        expected = f"exactly {allowed.min_items}"
    elif allowed.min_items == 0:
        expected = f"at most {allowed.max_items}"
    else:
        expected = f"{allowed.min_items}-{allowed.max_items}"
    raise ValidationError(f"{owner}: invalid {prop}: must have {expected} item(s) (got {count})")


def check_int(owner: object, prop: str, value: object, allowed: IntRange) -> None:
    """Refuse a non-integer (bool included) or an integer out of bounds; a numeric token passes."""
    if value is None:
        return
    if isinstance(value, int) and not isinstance(value, bool):
        if not allowed.minimum <= value <= allowed.maximum:
            raise ValidationError(
                f"{owner}: invalid {prop} {value!r}: must be {allowed.minimum}-{allowed.maximum}"
            )
        return
    if isinstance(value, float) and is_unresolved(value):
        return
    raise ValidationError(
        f"{owner}: invalid {prop} {value!r}: must be an integer, not {type(value).__name__}"
    )
