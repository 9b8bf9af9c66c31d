"""Where a child with an id CDK reserves (``Resource``, ``Default``) goes: a container of its own."""

from __future__ import annotations

from constructs import Construct

_RESERVED_IDS = ("Resource", "Default")


def _scope_for(parent: Construct, id: str, container: str) -> Construct:
    """``parent`` (an image) itself, or for the ids CDK reserves, a container under it.

    Beside the image's ``Resource`` (its CfnImage) a child ``Resource`` cannot exist, and a child
    ``Default`` makes the image's default child ambiguous; CDK also drops ``Default`` from logical
    ids, so a version's resource there would take the CfnImage's. Other ids stay where they were, so
    their logical ids do not change.
    """
    if id not in _RESERVED_IDS:
        return parent
    # The other reserved id in the same container would make its default child ambiguous too
    # ("Cannot determine default child"): the second one gets a container of its own.
    other = next(reserved for reserved in _RESERVED_IDS if reserved != id)
    for name in (container, f"{container}{id}"):
        found = parent.node.try_find_child(name)
        if found is None:
            return Construct(parent, name)
        if isinstance(found, Construct) and found.node.try_find_child(other) is None:
            return found
    raise AssertionError("unreachable: each container holds one reserved id")
