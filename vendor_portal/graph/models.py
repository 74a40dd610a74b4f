from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from vendor_portal.db import utcnow
from vendor_portal.extensions import db

if TYPE_CHECKING:
    from vendor_portal.vendors.models import Vendor, VendorService


class BusinessService(db.Model):
    """A critical function of the organisation, from the business impact analysis."""

    __tablename__ = "business_service"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    owner: Mapped[str | None] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    criticality: Mapped[str] = mapped_column(String(16), index=True)
    # Maximum tolerable downtime, recovery time and recovery point objectives, in hours.
    mtd_hours: Mapped[float | None]
    rto_hours: Mapped[float | None]
    rpo_hours: Mapped[float | None]
    downtime_cost_per_hour: Mapped[float | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    archived_at: Mapped[datetime | None] = mapped_column(index=True)

    node: Mapped[GraphNode | None] = relationship(back_populates="business_service")

    @property
    def archived(self) -> bool:
        return self.archived_at is not None


class GraphNode(db.Model):
    """A node of the dependency graph; `key` is its id in the interchange format.

    Nodes built from records (`origin` "record") carry a link to the record: a vendor, a vendor
    service, a business service, or (by key) a country or cloud region named in hosting data."""

    __tablename__ = "graph_node"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    name: Mapped[str] = mapped_column(String(200))
    requires: Mapped[str] = mapped_column(String(16))  # "all", "any" or k as digits
    country: Mapped[str | None] = mapped_column(String(2), index=True)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    origin: Mapped[str] = mapped_column(String(16), default="manual")
    vendor_id: Mapped[int | None] = mapped_column(ForeignKey("vendor.id"), index=True)
    vendor_service_id: Mapped[int | None] = mapped_column(
        ForeignKey("vendor_service.id"), unique=True
    )
    business_service_id: Mapped[int | None] = mapped_column(
        ForeignKey("business_service.id"), unique=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    vendor: Mapped[Vendor | None] = relationship()
    vendor_service: Mapped[VendorService | None] = relationship()
    business_service: Mapped[BusinessService | None] = relationship(back_populates="node")

    @property
    def requires_value(self) -> str | int:
        return int(self.requires) if self.requires.isdigit() else self.requires


class GraphEdge(db.Model):
    """`source` depends on `target`."""

    __tablename__ = "graph_edge"
    __table_args__ = (UniqueConstraint("source_id", "target_id", name="uq_graph_edge_pair"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("graph_node.id", ondelete="CASCADE"))
    target_id: Mapped[int] = mapped_column(
        ForeignKey("graph_node.id", ondelete="CASCADE"), index=True
    )
    switchover_hours: Mapped[float] = mapped_column(default=0.0)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    origin: Mapped[str] = mapped_column(String(16), default="manual")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    source: Mapped[GraphNode] = relationship(foreign_keys=[source_id])
    target: Mapped[GraphNode] = relationship(foreign_keys=[target_id])


class GraphState(db.Model):
    """One row: the graph version, raised by every change, and what the record-built part was
    built from. `token` is new whenever the row is (re)created, so cached results never
    outlive the graph they describe."""

    __tablename__ = "graph_state"
    __audit__ = False  # bookkeeping: the changes themselves are audited

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(default=1)
    records_fingerprint: Mapped[str | None] = mapped_column(String(64))
    # The GraphRecordsVersion stamp the record-built part was last checked against.
    records_stamp: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class GraphRecordsVersion(db.Model):
    """One row: a stamp replaced, in the same transaction, by every write to the records the
    graph is built from (vendors, vendor services, subcontractor declarations, business
    services). While it equals GraphState.records_stamp those records have not changed since
    the graph was last checked against them. Random, not a counter: a restored database never
    matches a stamp of another one."""

    __tablename__ = "graph_records_version"
    __audit__ = False

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    stamp: Mapped[int] = mapped_column(BigInteger)


class GraphResult(db.Model):
    """An analysis result for one graph version (SPOFs, concentration), computed once."""

    __tablename__ = "graph_result"
    __audit__ = False
    __table_args__ = (
        UniqueConstraint("token", "version", "name", name="uq_graph_result_version"),
        Index("ix_graph_result_version", "version"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(32))
    version: Mapped[int]
    name: Mapped[str] = mapped_column(String(32))
    payload: Mapped[Any] = mapped_column(JSON)
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)


class GraphServiceResult(db.Model):
    """One business service's entry of the SPOF analysis of one graph version, so that one
    service, or one page of services, is read without the rest (the whole document runs to
    hundreds of MB on a large map). `document` is the entry as JSON text, as the API serves it;
    the other columns are what lists show, sort and filter on. `position` keeps the document's
    order. Written in bulk with the GraphResult row "spof-rows" that says the set is complete."""

    __tablename__ = "graph_service_result"
    __audit__ = False
    __table_args__ = (
        UniqueConstraint("token", "version", "format", "position", name="uq_graph_service_result"),
        Index("ix_graph_service_result_key", "token", "version", "format", "key"),
        Index("ix_graph_service_result_version", "version"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(32))
    version: Mapped[int]
    format: Mapped[int]
    position: Mapped[int]
    key: Mapped[str] = mapped_column(String(200))
    business_service_id: Mapped[int | None]
    name: Mapped[str] = mapped_column(String(200))
    criticality: Mapped[str | None] = mapped_column(String(16))
    rto_hours: Mapped[float | None]
    downtime_cost_per_hour: Mapped[float | None]
    spof_count: Mapped[int]
    common_cause_count: Mapped[int]
    gap_count: Mapped[int]
    down: Mapped[bool]
    common_causes: Mapped[str] = mapped_column(Text)  # names, "; "-separated
    gaps: Mapped[str] = mapped_column(Text)  # names, "; "-separated
    document: Mapped[str] = mapped_column(Text, deferred=True)  # lists never need it


class RegionRisk(db.Model):
    """Natural-hazard and political-instability ratings of a country (ISO alpha-2 `code`) or a
    named region (a cloud region such as eu-west-1, or any area; `code` is its name). Levels are
    low, medium, high or very_high; scores, when the rating came from a number, run 0-100 (the
    riskiest 100). `source`: "indices" (the public indices, the default ratings), "import" (a CSV
    file, which the indices loader does not overwrite) or "demo"."""

    __tablename__ = "region_risk"
    __table_args__ = (UniqueConstraint("kind", "code", name="uq_region_risk_kind_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(200), index=True)
    natural_hazard: Mapped[str | None] = mapped_column(String(16))
    natural_hazard_score: Mapped[float | None]
    political_instability: Mapped[str | None] = mapped_column(String(16))
    political_instability_score: Mapped[float | None]
    # The worse of the two levels, kept for filtering and sorting.
    overall: Mapped[str | None] = mapped_column(String(16), index=True)
    source: Mapped[str] = mapped_column(String(16), index=True)
    source_detail: Mapped[str | None] = mapped_column(String(300))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
