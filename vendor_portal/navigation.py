"""The main menu. Features add their entries here, so the layout never names them."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from flask import current_app, render_template, request
from flask_login import current_user
from markupsafe import Markup

from vendor_portal.security import Role, has_permission


@dataclass(frozen=True)
class NavItem:
    label: str
    endpoint: str
    permission: str
    order: int
    # Vendor users see the entry only when this is True (their pages filter to their vendor).
    for_vendor_users: bool = False
    # Entries only a vendor user needs (its own to-do pages).
    only_vendor_users: bool = False


@dataclass(frozen=True)
class NavGroup:
    label: str
    items: tuple[NavItem, ...]


# Internal users have many areas: group them so the bar stays on one line.
GROUPS = {
    "questionnaires.index": "Due diligence",
    "evidence.index": "Due diligence",
    "subcontracting.index": "Due diligence",
    "graph.index": "Resilience",
    "graph.fallbacks": "Resilience",
    "graph.region_risk": "Resilience",
    "kpis.index": "Resilience",
    "exercises.index": "Resilience",
    "findings.index": "Resilience",
}

_items: list[NavItem] = []


def nav_item(
    label: str,
    endpoint: str,
    permission: str,
    *,
    order: int = 50,
    for_vendor_users: bool = False,
    only_vendor_users: bool = False,
) -> None:
    if not any(item.endpoint == endpoint for item in _items):
        _items.append(
            NavItem(
                label,
                endpoint,
                permission,
                order,
                for_vendor_users or only_vendor_users,
                only_vendor_users,
            )
        )


def nav_for(user: Any) -> list[NavItem | NavGroup]:
    vendor_user = getattr(user, "role", None) == Role.VENDOR_USER
    items = sorted(
        (
            item
            for item in _items
            if has_permission(user, item.permission)
            and (item.for_vendor_users or not vendor_user)
            and (vendor_user or not item.only_vendor_users)
        ),
        key=lambda item: (item.order, item.label),
    )
    if vendor_user:
        return list(items)
    entries: list[NavItem | NavGroup] = []
    groups: dict[str, list[NavItem]] = {}
    for item in items:
        group = GROUPS.get(item.endpoint)
        if group is None:
            entries.append(item)
        elif group not in groups:
            groups[group] = [item]
            entries.append(NavGroup(group, ()))
        else:
            groups[group].append(item)
    return [
        NavGroup(e.label, tuple(groups[e.label])) if isinstance(e, NavGroup) else e for e in entries
    ]


# Rendered menus kept per process: a handful of roles times the pages of the app (and the
# vendors of vendor users), bounded all the same.
_MAX_RENDERED = 4096
_rendered_lock = threading.Lock()


def main_nav() -> Markup:
    """The menu bar's entries for the signed-in user on this page (templates/_main_nav.html).

    They depend only on the user's role and state (its vendor, for a vendor user's "My
    company"), on the page (its endpoint and blueprint, for the active entry) and on the
    application root the links start with, and the entries are registered at import: the menu
    is rendered once per such combination in each process and reused, instead of on every
    page (two dozen url_for and permission checks)."""
    user = current_user
    vendor_user = user.role == Role.VENDOR_USER
    key = (
        user.role,
        user.is_active,
        user.vendor_id if vendor_user else None,
        request.endpoint,
        request.blueprint,
        request.script_root,
    )
    rendered: dict[tuple[Any, ...], Markup] = current_app.extensions.setdefault("main_nav", {})
    html = rendered.get(key)
    if html is None:
        html = Markup(render_template("_main_nav.html"))  # noqa: S704 - autoescaped output
        with _rendered_lock:
            if len(rendered) >= _MAX_RENDERED:
                rendered.clear()
            rendered[key] = html
    return html
