"""Builders for the dependency graph's tests (business services, vendor services, nodes)."""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy.orm import Session

from vendor_portal.graph import services
from vendor_portal.graph.models import BusinessService, GraphEdge, GraphNode
from vendor_portal.vendors.models import Vendor, VendorService

_counter = itertools.count(1)


class GraphBuilders:
    def __init__(self, session: Session) -> None:
        self.session = session

    def business_service(self, **fields: Any) -> BusinessService:
        n = next(_counter)
        values = {"name": f"Business service {n}", "criticality": "high"}
        values.update(fields)
        service = services.create_business_service(self.session, values)
        self.session.commit()
        return service

    def vendor_service(self, vendor: Vendor, **fields: Any) -> VendorService:
        n = next(_counter)
        values: dict[str, Any] = {
            "name": f"Vendor service {n}",
            "service_type": "saas",
            "hosting_countries": [],
            "cloud_regions": [],
        }
        values.update(fields)
        service = VendorService(vendor=vendor, **values)
        self.session.add(service)
        self.session.commit()
        return service

    def node(self, name: str, kind: str = "capability", **fields: Any) -> GraphNode:
        node = services.create_node(self.session, {"name": name, "kind": kind, **fields})
        self.session.commit()
        return node

    def node_of(self, **link: Any) -> GraphNode:
        """The node built for a record: node_of(vendor_service_id=3), node_of(key="cloud:x")."""
        services.ensure_current(self.session)
        self.session.commit()
        from sqlalchemy import select

        column, value = next(iter(link.items()))
        return self.session.scalars(
            select(GraphNode).where(getattr(GraphNode, column) == value)
        ).one()

    def depends(self, source: GraphNode, target: GraphNode, switchover: float = 0.0) -> GraphEdge:
        edge = services.add_edge(self.session, source, target, switchover)
        self.session.commit()
        return edge

    def requires(self, node: GraphNode, requires: str) -> GraphNode:
        services.update_node(self.session, node, {"requires": requires})
        self.session.commit()
        return node
