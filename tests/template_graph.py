"""The order a synthesized template imposes on its resources, as CloudFormation reads it."""

from __future__ import annotations

from typing import Any


def references(value: Any) -> set[str]:
    """Logical ids a property value refers to (Ref, Fn::GetAtt), at any depth."""
    if isinstance(value, dict):
        found = {value["Ref"]} if "Ref" in value else set()
        if "Fn::GetAtt" in value:
            found.add(value["Fn::GetAtt"][0])
        return found.union(*(references(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(references(v) for v in value))
    return set()


def comes_after(resources: dict[str, Any], later: str, earlier: str) -> bool:
    """Whether CloudFormation must finish ``earlier`` before it starts ``later`` (DependsOn or refs)."""
    seen: set[str] = set()
    todo = [later]
    while todo:
        current = todo.pop()
        node = resources[current]
        edges = set(node.get("DependsOn", [])) | references(node.get("Properties", {}))
        for edge in edges - seen:
            if edge == earlier:
                return True
            if edge in resources:
                seen.add(edge)
                todo.append(edge)
    return False
