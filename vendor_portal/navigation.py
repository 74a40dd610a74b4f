"""The main menu. Features add their entries here, so the layout never names them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vendor_portal.security import Role, has_permission


@dataclass(frozen=True)
class NavItem:
    label: str
    endpoint: str
    permission: str
    order: int
    # Vendor users see the entry only when this is True (their pages filter to their vendor).
    for_vendor_users: bool = False


_items: list[NavItem] = []


def nav_item(
    label: str, endpoint: str, permission: str, *, order: int = 50, for_vendor_users: bool = False
) -> None:
    if not any(item.endpoint == endpoint for item in _items):
        _items.append(NavItem(label, endpoint, permission, order, for_vendor_users))


def nav_for(user: Any) -> list[NavItem]:
    vendor_user = getattr(user, "role", None) == Role.VENDOR_USER
    return sorted(
        (
            item
            for item in _items
            if has_permission(user, item.permission) and (item.for_vendor_users or not vendor_user)
        ),
        key=lambda item: (item.order, item.label),
    )
