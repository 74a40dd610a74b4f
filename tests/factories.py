"""Data builders: each call makes one valid object, overridable field by field."""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy.orm import Session

from vendor_portal.auth import services as accounts
from vendor_portal.auth.models import User
from vendor_portal.vendors.domain import lei_with_check_digits
from vendor_portal.vendors.models import Vendor, VendorContact

DEFAULT_PASSWORD = "correct horse battery"
_counter = itertools.count(1)


class Builders:
    def __init__(self, session: Session) -> None:
        self.session = session

    def vendor(self, **fields: Any) -> Vendor:
        n = next(_counter)
        values = {
            "name": f"Vendor {n}",
            "country": "DE",
            "tier": "high",
            "status": "active",
            "lei": lei_with_check_digits(f"5299{n:014d}"),
        }
        values.update(fields)
        vendor = Vendor(**values)
        self.session.add(vendor)
        self.session.commit()
        return vendor

    def contact(self, vendor: Vendor, **fields: Any) -> VendorContact:
        n = next(_counter)
        values = {"name": f"Contact {n}", "email": f"contact{n}@example.com", "vendor": vendor}
        values.update(fields)
        contact = VendorContact(**values)
        self.session.add(contact)
        self.session.commit()
        return contact

    def user(
        self,
        role: str = "vendor_manager",
        vendor: Vendor | None = None,
        password: str | None = DEFAULT_PASSWORD,
        **fields: Any,
    ) -> User:
        n = next(_counter)
        if role == "vendor_user" and vendor is None:
            vendor = self.vendor()
        user = accounts.create_user(
            self.session,
            email=fields.pop("email", f"user{n}@example.com"),
            name=fields.pop("name", f"User {n}"),
            role=role,
            password=password,
            vendor_id=vendor.id if vendor else None,
        )
        for key, value in fields.items():
            setattr(user, key, value)
        self.session.commit()
        return user

    def token(self, user: User, name: str = "test") -> str:
        _, plain = accounts.create_token(self.session, user, name)
        self.session.commit()
        return plain
