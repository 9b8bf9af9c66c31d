"""Token checks that spare a jsii round trip (about a millisecond each) where Python can answer."""

from __future__ import annotations

import json
from weakref import WeakKeyDictionary

from aws_cdk import Stack, Token

# CDK encodes every string and list token with one of these markers; a string without them is literal.
_TOKEN_MARKERS = ("${Token[", "#{Token[")


def is_unresolved(value: object) -> bool:
    """``Token.is_unresolved``, answered in Python for a literal string, bool, None or list of them."""
    if value is None or isinstance(value, bool):
        return False
    if isinstance(value, str) and not any(marker in value for marker in _TOKEN_MARKERS):
        return False
    if isinstance(value, list | tuple) and not any(
        isinstance(item, str) and any(marker in item for marker in _TOKEN_MARKERS) for item in value
    ):
        return False  # a list token is a list holding one "#{Token[...]}" string
    return bool(Token.is_unresolved(value))


def identity(stack: Stack, value: str) -> str:
    """A key under which a literal and a token that resolves to it are the same (for de-duplication).

    A token is resolved once per stack: a name or an id resolves alike every time it is asked.
    """
    resolved = _RESOLVED.setdefault(stack, {})
    found = resolved.get(value)  # asked before: no Token.is_unresolved round trip either
    if found is None:
        found = resolved[value] = (
            json.dumps(stack.resolve(value), sort_keys=True) if is_unresolved(value) else json.dumps(value)
        )
    return found


_RESOLVED: WeakKeyDictionary[Stack, dict[str, str]] = WeakKeyDictionary()
