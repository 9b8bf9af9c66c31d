#!/usr/bin/env python3
"""Whether two apps' templates are the same stack: what ``make bench`` checks before it times them.

A fair comparison needs the library app and its hand-written L1 floor to produce the same resources.
Their templates cannot be equal byte for byte (CDK's logical ids carry hashes, the L1s are named by
hand), so each resource is compared with these differences made equal, and nothing else:

- logical ids: a resource is named by a hash of its own canonical form, so every ``Ref``,
  ``Fn::GetAtt`` and ``DependsOn`` compares what it points to, not its name;
- ``Metadata.aws:cdk:path`` (construct paths) and ``AWS::CDK::Metadata``'s ``Analytics`` (the construct
  classes used);
- a ``PolicyName`` that is the policy's own logical id (CDK names its DefaultPolicy so);
- IAM policy documents: statements and their ``Action`` and ``Resource`` lists are sets, and a
  one-item list is its item (IAM reads them so; CDK's minimizePolicies sorts and unwraps them);
- ``DependsOn``: only the entries not already implied by the resource's references or its other
  dependencies count (CloudFormation orders by the transitive closure, so ``[Role, Policy]`` and
  ``[Policy]`` mean the same when the Policy references the Role).

Run as ``bench/compare_templates.py a.template.json b.template.json`` it prints the differences.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

Json = dict[str, Any]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _get_att(value: Any) -> tuple[str, str]:
    target = value if isinstance(value, list) else str(value).split(".", 1)
    return str(target[0]), str(target[1])


def _references(value: Any, resources: Json) -> set[str]:
    """The logical ids of the resources ``value`` names with ``Ref`` or ``Fn::GetAtt``."""
    found: set[str] = set()
    if isinstance(value, dict):
        if len(value) == 1 and "Ref" in value:
            if value["Ref"] in resources:
                found.add(value["Ref"])
        elif len(value) == 1 and "Fn::GetAtt" in value:
            found.add(_get_att(value["Fn::GetAtt"])[0])
        else:
            for item in value.values():
                found |= _references(item, resources)
    elif isinstance(value, list):
        for item in value:
            found |= _references(item, resources)
    return found


def canonical_resources(template: Json) -> dict[str, tuple[str, str]]:
    """Each resource's label and canonical form (JSON), by logical id.

    The label is the resource type and a hash of the form, in which every logical id is replaced by
    that resource's label: two resources have the same label exactly when they, and everything they
    reference or wait for, are the same.
    """
    resources: Json = template.get("Resources", {})
    if "Fn::Sub" in json.dumps(resources):
        raise ValueError("Fn::Sub can name resources inside a string, which this comparison does not read")
    refs = {rid: _references(r.get("Properties", {}), resources) for rid, r in resources.items()}
    explicit = {rid: set(_as_list(r.get("DependsOn", []))) for rid, r in resources.items()}
    closure: dict[str, set[str]] = {}
    labels: dict[str, tuple[str, str]] = {}

    def ancestors(rid: str) -> set[str]:
        if rid not in closure:
            found: set[str] = set()
            for dependency in refs[rid] | explicit[rid]:
                found |= {dependency} | ancestors(dependency)
            closure[rid] = found
        return closure[rid]

    def needed(rid: str) -> set[str]:
        """The DependsOn entries that no reference or other dependency implies."""
        edges = refs[rid] | explicit[rid]
        return {
            dependency
            for dependency in explicit[rid] - refs[rid]
            if not any(dependency in ancestors(other) for other in edges - {dependency})
        }

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            if len(value) == 1 and "Ref" in value and value["Ref"] in resources:
                return {"Ref": label(value["Ref"])}
            if len(value) == 1 and "Fn::GetAtt" in value:
                target, attribute = _get_att(value["Fn::GetAtt"])
                return {"Fn::GetAtt": [label(target), attribute]}
            walked = {key: walk(item) for key, item in value.items()}
            if "Statement" in walked and "Version" in walked:  # an IAM policy document
                statements = [_statement(s) for s in _as_list(walked["Statement"])]
                walked["Statement"] = sorted(statements, key=lambda s: json.dumps(s, sort_keys=True))
            return walked
        if isinstance(value, list):
            return [walk(item) for item in value]
        return value

    def label(rid: str) -> str:
        if rid not in labels:
            resource = resources[rid]
            form = {
                key: walk(value) for key, value in resource.items() if key not in ("DependsOn", "Metadata")
            }
            properties = form.get("Properties", {})
            if properties.get("PolicyName") == rid:
                properties["PolicyName"] = "<its logical id>"
            if resource["Type"] == "AWS::CDK::Metadata":
                properties.pop("Analytics", None)
            metadata = {k: v for k, v in resource.get("Metadata", {}).items() if k != "aws:cdk:path"}
            if metadata:
                form["Metadata"] = metadata
            depends_on = needed(rid)
            if depends_on:
                form["DependsOn"] = sorted(label(dependency) for dependency in depends_on)
            text = json.dumps(form, sort_keys=True)
            labels[rid] = (f"{resource['Type']}#{hashlib.sha256(text.encode()).hexdigest()[:12]}", text)
        return labels[rid][0]

    for rid in resources:
        label(rid)
    return labels


def _statement(statement: Json) -> Json:
    out = dict(statement)
    for key in ("Action", "NotAction", "Resource", "NotResource"):
        if key in out:
            items = [
                json.loads(i) for i in sorted({json.dumps(i, sort_keys=True) for i in _as_list(out[key])})
            ]
            out[key] = items[0] if len(items) == 1 else items
    return out


def differences(library: Json, l1: Json, limit: int = 5) -> list[str]:
    """What differs between the two templates, once the above is made equal; empty when they match.

    Shows first the resources that differ themselves, not the ones that differ only because they
    reference one of those.
    """
    found = [
        f"section {section} differs"
        for section in sorted((set(library) | set(l1)) - {"Resources"})
        if library.get(section) != l1.get(section)
    ]
    sides = {"library": canonical_resources(library), "L1": canonical_resources(l1)}
    counts = {side: Counter(lab for lab, _ in forms.values()) for side, forms in sides.items()}
    for side, other in (("library", "L1"), ("L1", "library")):
        extra = counts[side] - counts[other]
        if not extra:
            continue
        odd = [(rid, form) for rid, (lab, form) in sides[side].items() if lab in extra]
        # A resource that names another odd one differs at least through it: show it last.
        odd.sort(key=lambda item: sum(lab in item[1] for lab in extra))
        found += [f"only in {side}: {rid} {form}" for rid, form in odd[:limit]]
        if len(odd) > limit:
            found.append(f"only in {side}: {len(odd) - limit} more resources")
    return found


def main() -> int:
    if len(sys.argv) != 3:
        sys.exit(f"usage: {sys.argv[0]} LIBRARY.template.json L1.template.json")
    library, l1 = (json.loads(Path(arg).read_text()) for arg in sys.argv[1:])
    found = differences(library, l1)
    for line in found:
        print(line)
    print("same stack" if not found else f"{len(found)} differences", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
