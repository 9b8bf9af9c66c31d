"""Entries as the Studio tests write them: as SageMaker lists them, and as the ledger keeps them."""

from __future__ import annotations

from typing import Any


def listed(image: str = "my-image", config: str = "my-config", version: int | None = None) -> dict[str, Any]:
    """A CustomImages entry as SageMaker lists it."""
    entry: dict[str, Any] = {"ImageName": image, "AppImageConfigName": config}
    if version is not None:
        entry["ImageVersionNumber"] = version
    return entry


def declared(
    image: str = "my-image",
    config: str = "my-config",
    version: int | None = None,
    settings: str = "DefaultUserSettings",
    app_type: str = "KernelGateway",
) -> dict[str, Any]:
    """An entry as the ledger keeps it (the version an integer, only when pinned)."""
    return {"Settings": settings, "AppType": app_type, **listed(image, config, version)}
