"""The app-wide listings of entries on existing targets (duplicates and SageMaker's cap)."""

from __future__ import annotations

from typing import cast
from weakref import WeakKeyDictionary

from aws_cdk import (
    Stack,
)
from constructs import Construct, IConstruct

from .. import validation
from ..enums import AppType
from ..tokens import identity
from .checks import _shown_in, check_cap


class _Listings(Construct):
    """What the app's attachments list on existing targets, by target, settings, app type and image.

    App-wide, under the app's root: two stacks listing one image on one target would share the entry,
    and deleting either stack would detach it for the other; and SageMaker takes at most
    ``MAX_CUSTOM_IMAGES`` per list.
    """

    ID = "SageMakerStudioCustomImagesListings"

    @classmethod
    def of(cls, stack: Stack) -> _Listings:
        listings = _LISTINGS.get(stack)
        if listings is None:
            root = stack.node.root
            found = root.node.try_find_child(cls.ID)
            listings = _LISTINGS[stack] = found if isinstance(found, _Listings) else cls(root, cls.ID)
        return listings

    def __init__(self, scope: IConstruct, id: str) -> None:
        super().__init__(cast(Construct, scope), id)
        self._lists: dict[tuple[str, str, str], dict[str, object]] = {}

    def add(
        self,
        owner: validation.ConstructOwner,
        target: str,
        settings: str,
        app_type: AppType,
        name: str,
        stack: Stack,
    ) -> None:
        listed = self._lists.setdefault((target, settings, app_type.value), {})
        image = identity(stack, name)
        by = listed.get(image)
        if by is not None:
            raise validation.ValidationError(
                f"{owner}: image {_shown_in(stack, name)!r} is already listed for {app_type.value} in "
                f"this target by {by}; one app lists an image once per target and app type (two apps "
                "share an identical entry through the ledger)"
            )
        check_cap(owner, "this target's ", settings, app_type, len(listed) + 1)
        listed[image] = owner


# Each stack's way to the app's listings, saving the three round trips of finding them per attachment.
_LISTINGS: WeakKeyDictionary[Stack, _Listings] = WeakKeyDictionary()
