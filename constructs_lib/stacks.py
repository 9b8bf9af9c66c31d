"""What the library asks of stacks: whether two are one, and the top-level stack a nested one deploys
with (the one a cross-stack dependency is between)."""

from __future__ import annotations

from aws_cdk import Stack


def _same_stack(a: Stack, b: Stack) -> bool:
    return a is b or a.node.path == b.node.path


def _root(stack: Stack) -> Stack:
    """The top-level stack a (possibly nested) stack deploys with."""
    while stack.nested_stack_parent is not None:
        stack = stack.nested_stack_parent
    return stack


def _deploys_after(source: Stack, target: Stack, edges: dict[str, list[Stack]]) -> bool:
    """Whether top-level stack ``source`` deploys after ``target``: through ``edges`` (by stack path,
    what the caller knows orders them) or the stacks' own dependencies."""
    seen: set[str] = set()
    pending = [source]
    while pending:
        stack = pending.pop()
        if stack.node.path == target.node.path:
            return True
        if stack.node.path in seen:
            continue
        seen.add(stack.node.path)
        pending.extend(edges.get(stack.node.path, []))
        pending.extend(_root(s) for s in stack.dependencies)
    return False
