"""Pages of the supply-chain map: business services, the dependency graph, SPOFs, concentration,
scenarios, import and export. Internal roles read; admins and vendor managers change."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import zipfile
from collections.abc import Iterable
from datetime import date
from typing import Any

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from jinja2.utils import htmlsafe_json_dumps
from markupsafe import Markup
from sqlalchemy import func, or_, select
from sqlalchemy.orm import contains_eager

from vendor_portal.extensions import db
from vendor_portal.forms import ConfirmForm, choices
from vendor_portal.graph import bp, services, summaries
from vendor_portal.graph import fallbacks as fallback_services
from vendor_portal.graph import regions as region_services
from vendor_portal.graph.domain import fallbacks as fallback_domain
from vendor_portal.graph.domain import interchange
from vendor_portal.graph.domain import regions as regions_domain
from vendor_portal.graph.domain.business import Criticality
from vendor_portal.graph.domain.fallbacks import FlagCode
from vendor_portal.graph.domain.fallbacks import Status as FallbackStatus
from vendor_portal.graph.domain.files import read_graph_file
from vendor_portal.graph.domain.interchange import InvalidGraph
from vendor_portal.graph.domain.layout import layout
from vendor_portal.graph.domain.model import KIND_LABELS, NodeKind
from vendor_portal.graph.domain.regions import RATING_KINDS, IndexFileError, InvalidRatings, Level
from vendor_portal.graph.figures import KIND_COLOURS, concentration_chart, dependency_map
from vendor_portal.graph.forms import (
    BusinessServiceForm,
    DependencyForm,
    FallbackForm,
    ImportForm,
    NodeForm,
    RegionImportForm,
    ScenarioForm,
    SwitchoverForm,
)
from vendor_portal.graph.models import (
    BusinessService,
    GraphEdge,
    GraphNode,
    GraphServiceResult,
    RegionRisk,
)
from vendor_portal.graph.tables import (
    ANALYSIS_STATUSES,
    ANALYSIS_TABLE,
    BUSINESS_SERVICE_TABLE,
    CONCENTRATION_SORTS,
    CONCENTRATION_TABLE,
    FALLBACK_SORTS,
    FALLBACK_TABLE,
    NODE_TABLE,
    REGION_TABLE,
    SPOF_TABLE,
    FallbackRow,
    ServiceRow,
    page_of,
    sort_items,
)
from vendor_portal.home.tasks import Task, change_stamp, task_provider
from vendor_portal.navigation import nav_item
from vendor_portal.security import Role, has_permission, permission_required
from vendor_portal.stamped import Kept
from vendor_portal.tables import (
    BadTableRequest,
    Page,
    export_response,
    paginate,
    parse_page_args,
)
from vendor_portal.vendors.domain import country_name
from vendor_portal.vendors.models import Vendor

nav_item("Supply chain", "graph.index", "graph.read", order=30)


def _can_write() -> bool:
    return has_permission(current_user, "graph.write")


def _page_args() -> tuple[int, int]:
    return parse_page_args(
        request.args, current_app.config["PER_PAGE"], current_app.config["MAX_PER_PAGE"]
    )


def _node_url(key_to_id: dict[str, int]) -> Any:
    def url(key: str) -> str | None:
        node_id = key_to_id.get(key)
        return url_for("graph.show_node", node_id=node_id) if node_id is not None else None

    return url


def _key_to_id(keys: Iterable[str] | None = None) -> dict[str, int]:
    """Database ids of the nodes `keys` (of every node when None)."""
    stmt = select(GraphNode.key, GraphNode.id)
    if keys is None:
        return dict(db.session.execute(stmt).all())
    wanted = sorted(set(keys))
    found: dict[str, int] = {}
    for offset in range(0, len(wanted), 1000):
        chunk = wanted[offset : offset + 1000]
        found.update(db.session.execute(stmt.where(GraphNode.key.in_(chunk))).all())
    return found


# --- overview and map -------------------------------------------------------------------------


# The map page's content as rendered, per graph version, risk ratings, query string, role and
# application root: all it shows is stored per graph version and ratings (the SPOF analysis,
# the map), or read from the analysis rows of the version.
_pages = Kept(64)


@bp.get("/")
@permission_required("graph.read")
def index():
    current = services.ensure_current(db.session)
    # Kept at once: computing an analysis below can take a while, with graph_state locked.
    services.commit_if_written(db.session)
    ratings = services.ratings_digest(db.session)
    kept_as = (
        *services.cache_key(current),
        ratings,
        tuple(request.args.items(multi=True)),
        current_user.role,
        request.script_root,
    )
    kept = _pages.get(kept_as) if not request.args.get("export") else None
    if kept is not None:
        return render_template("graph/index.html", content=kept)
    summary, current = services.spof_summary(db.session, current)
    overview = _overview(current, ratings)
    stored = services.commit_if_written(db.session)
    filters = _analysis_filters()
    try:
        stmt = ANALYSIS_TABLE.sorted(
            _filtered_analysis(services.service_result_query(current), filters),
            request.args.get("sort"),
            GraphServiceResult.position,
        )
        export = request.args.get("export")
        if export:
            return export_response(ANALYSIS_TABLE, db.session.scalars(stmt).all(), export)
        page, per_page = _page_args()
    except BadTableRequest as exc:
        flash(str(exc), "warning")
        return redirect(url_for("graph.index"))
    if any(filters.values()):
        result = paginate(db.session, stmt, page, per_page)
    else:  # every service: the count is known
        items = db.session.scalars(stmt.limit(per_page).offset((page - 1) * per_page)).all()
        result = Page(list(items), page, per_page, summary["services"])
    ids = {r.business_service_id: r.business_service_id for r in result.items}
    content = render_template(
        "graph/_index.html",
        links=_links("graph.show_business_service", "service_id", ids),
        summary=summary,
        overview=overview,
        page=result,
        filters=filters,
        statuses=ANALYSIS_STATUSES,
        criticalities=list(Criticality),
        sort=request.args.get("sort") or ANALYSIS_TABLE.default_sort,
        version=current.version,
        can_write=_can_write(),
    )
    kept = Markup(content)  # noqa: S704 - autoescaped template output
    if not stored:
        # The analysis and map of this version (and ratings) as stored, read back: what every
        # later view of the page shows. (A first view, which stores them, keeps nothing yet.)
        _pages.put(kept_as, kept)
    return render_template("graph/index.html", content=kept)


def _analysis_filters() -> dict[str, Any]:
    args = request.args
    valid = {c.value for c in Criticality}
    return {
        "search": args.get("q", "").strip() or None,
        "criticalities": [c for c in args.getlist("criticality") if c in valid] or None,
        "status": args.get("status") if args.get("status") in ANALYSIS_STATUSES else None,
    }


def _filtered_analysis(stmt: Any, filters: dict[str, Any]) -> Any:
    r = GraphServiceResult
    if filters["search"]:
        pattern = f"%{filters['search'].lower()}%"
        stmt = stmt.where(or_(func.lower(r.name).like(pattern), func.lower(r.key).like(pattern)))
    if filters["criticalities"]:
        stmt = stmt.where(r.criticality.in_(filters["criticalities"]))
    status = filters["status"]
    if status == "spofs":
        stmt = stmt.where(r.spof_count > 0)
    elif status == "gaps":
        stmt = stmt.where(r.gap_count > 0)
    elif status == "down":
        stmt = stmt.where(r.down.is_(True))
    elif status == "clear":
        stmt = stmt.where(r.spof_count == 0, r.gap_count == 0)
    return stmt


def _overview(current: Any, ratings: str | None = None) -> dict[str, Any]:
    """The whole map's drawing, loops and counts: computed once per graph version (and set of
    risk ratings, shown on hover), then read back. `ratings`: their digest, if just read."""
    ratings = ratings or services.ratings_digest(db.session)

    def compute(current: Any) -> dict[str, Any]:
        graph = services.load_graph(db.session, current)
        # What the business services need, every alternative counted; the rest is listed under
        # Nodes (vendors and services no business service is mapped to yet).
        needed = graph.effective(None).closure(graph.services)
        graph_map = layout(graph, needed)
        drawn = [n.key for n in graph_map.nodes if not n.grouped]
        analysis = _analysis_of(drawn, current)
        figure = dependency_map(
            graph_map,
            _node_url(_key_to_id(drawn)),
            analysis["spofs"],
            analysis["common"],
            analysis["gaps"],
            _merge_details(
                analysis["details"],
                _rating_details(graph, region_services.rating_book(db.session), drawn),
            ),
        )
        return {
            "figure": _figure_json(figure),
            "loops": [[graph.nodes[i].label for i in loop] for loop in graph.loops()],
            "nodes": len(graph),
            "edges": graph.edge_count,
            "has_services": bool(graph.services),
            "not_drawn": len(graph) - len(needed),
        }

    overview, _ = services._cached(db.session, f"overview-{ratings[:12]}", compute, current)
    # Safe: stored by _figure_json (HTML-safe JSON), not taken from a request.
    return {**overview, "figure": Markup(overview["figure"])}  # noqa: S704


def _figure_json(figure: dict[str, Any]) -> str:
    """A figure as the HTML-safe JSON the page embeds, stored as such: read back, it is put in
    the page as it is, not parsed and encoded again."""
    return str(htmlsafe_json_dumps(figure, dumps=current_app.json.dumps))


def _analysis_of(keys: list[str], current: Any) -> dict[str, Any]:
    """SPOF, common-cause and gap markers and hover text for the drawn nodes `keys`. A large map
    is drawn as groups (no node drawn one by one): then the entries are not read at all."""
    wanted = set(keys)
    out: dict[str, Any] = {"spofs": set(), "common": set(), "gaps": set(), "details": {}}
    if not wanted:
        return out
    entries = (json.loads(text) for text in services.iter_spof_entries(db.session, current))
    document = {"services": list(entries)}
    for item in document["services"]:
        for spof in item["spofs"]:
            if spof["id"] in wanted:
                out["spofs"].add(spof["id"])
                if spof["common_cause"]:
                    out["common"].add(spof["id"])
        for gap in item["gaps"]:
            if gap["id"] in wanted:
                out["gaps"].add(gap["id"])
    details = _details(document)
    out["details"] = {k: v for k, v in details.items() if k in wanted}
    return out


def _details(analysis: dict[str, Any]) -> dict[str, str]:
    """Hover text: which services each node is a SPOF of."""
    found: dict[str, list[str]] = {}
    for item in analysis["services"]:
        for spof in item["spofs"]:
            found.setdefault(spof["id"], []).append(item["name"])
        for gap in item["gaps"]:
            found.setdefault(gap["id"], []).append(f"gap in {item['name']}")
    return {
        key: "SPOF of " + ", ".join(names) if not names[0].startswith("gap") else "; ".join(names)
        for key, names in found.items()
    }


# --- business services ------------------------------------------------------------------------


def _service_filters() -> dict[str, Any]:
    args = request.args
    valid = {c.value for c in Criticality}
    return {
        "search": args.get("q", "").strip() or None,
        "criticalities": [c for c in args.getlist("criticality") if c in valid] or None,
        "archived": args.get("archived") == "1",
    }


@bp.get("/services")
@permission_required("graph.read")
def business_services():
    filters = _service_filters()
    current = services.ensure_current(db.session)
    # Kept at once: computing an analysis below can take a while, with graph_state locked.
    services.commit_if_written(db.session)
    _, current = services.spof_summary(db.session, current)
    services.commit_if_written(db.session)
    try:
        stmt = BUSINESS_SERVICE_TABLE.sorted(
            services.business_service_query(**filters), request.args.get("sort"), BusinessService.id
        )
        export = request.args.get("export")
        if export:
            chosen = list(db.session.scalars(stmt))
            rows = _service_rows(chosen, current)
            return export_response(BUSINESS_SERVICE_TABLE, rows, export)
        page, per_page = _page_args()
    except BadTableRequest as exc:
        flash(str(exc), "warning")
        return redirect(url_for("graph.business_services"))
    result = paginate(db.session, stmt, page, per_page)
    result.items[:] = _service_rows(result.items, current)
    return render_template(
        "graph/services.html",
        page=result,
        filters=filters,
        sort=request.args.get("sort") or BUSINESS_SERVICE_TABLE.default_sort,
        criticalities=list(Criticality),
        can_write=_can_write(),
    )


def _service_rows(chosen: list[BusinessService], current: Any) -> list[ServiceRow]:
    """The services with their rows of the current SPOF analysis (only those asked for)."""
    found: dict[int, GraphServiceResult] = {}
    ids = [s.id for s in chosen]
    for offset in range(0, len(ids), 1000):
        stmt = services.service_result_query(current).where(
            GraphServiceResult.business_service_id.in_(ids[offset : offset + 1000])
        )
        found.update((r.business_service_id, r) for r in db.session.scalars(stmt))
    return [ServiceRow(s, found.get(s.id)) for s in chosen]


@bp.route("/services/new", methods=["GET", "POST"])
@permission_required("graph.write")
def create_business_service():
    form = BusinessServiceForm()
    if form.validate_on_submit():
        service = services.create_business_service(db.session, form.values())
        db.session.commit()
        flash(
            f"Business service {service.name} created. Add what it needs from its page.", "success"
        )
        return redirect(url_for("graph.show_business_service", service_id=service.id))
    return render_template("graph/service_form.html", form=form, service=None)


def _service_or_404(service_id: int) -> BusinessService:
    return db.get_or_404(BusinessService, service_id)


@bp.get("/services/<int:service_id>")
@permission_required("graph.read")
def show_business_service(service_id: int):
    audited = change_stamp(db.session)  # before the record: what is kept is never older
    service = _service_or_404(service_id)
    current = services.ensure_current(db.session)
    # Kept at once: computing an analysis below can take a while, with graph_state locked.
    services.commit_if_written(db.session)
    node = db.session.scalar(select(GraphNode).where(GraphNode.business_service_id == service.id))
    key = node.key if node is not None else None
    analysis = None
    if key is not None and not service.archived:
        analysis = services.service_entry(db.session, key, current)
    if request.args.get("export") and analysis is not None:
        try:
            return export_response(SPOF_TABLE, analysis["spofs"], request.args["export"])
        except BadTableRequest as exc:
            flash(str(exc), "warning")
    analysis_html, has_figure = None, False
    if analysis is not None and key is not None:
        ratings = services.ratings_digest(db.session)
        kept_as = (
            "service",
            service.id,
            *services.cache_key(current),
            ratings,
            audited,
            tuple(request.args.items(multi=True)),
            request.script_root,
        )
        found = _pages.get(kept_as)
        if found is not None:
            analysis_html, has_figure = found
        else:
            analysis_html, has_figure = _service_analysis(service, key, analysis, current, ratings)
            if not services.commit_if_written(db.session):
                # Read back as stored for this version: what every later view shows.
                _pages.put(kept_as, (analysis_html, has_figure))
    services.commit_if_written(db.session)  # what reading the analysis stored, if anything
    dependencies = (
        db.session.scalars(
            select(GraphEdge)
            .where(GraphEdge.source_id == node.id)
            .join(GraphEdge.target)
            .options(contains_eager(GraphEdge.target))
        ).all()
        if node is not None
        else []
    )
    return render_template(
        "graph/service.html",
        service=service,
        node=node,
        analysis=analysis,
        analysis_html=analysis_html,
        has_figure=has_figure,
        dependencies=dependencies,
        can_write=_can_write(),
    )


def _service_analysis(
    service: BusinessService, key: str, analysis: dict[str, Any], current: Any, ratings: str
) -> tuple[Markup, bool]:
    """A business service page's SPOFs (a page of them), common causes, gaps and map, rendered;
    and whether there is a map."""
    # A service on a large map can have hundreds of SPOFs: a page of them at a time.
    try:
        page, per_page = _page_args()
    except BadTableRequest:
        page, per_page = 1, current_app.config["PER_PAGE"]
    view = _service_view(key, analysis, current, ratings)
    # The analysis is shared between requests: each SPOF of the page with its chain, as copies.
    spofs = page_of(analysis["spofs"], page, per_page)
    first = (spofs.page - 1) * spofs.per_page
    chains = view["witness_chains"][first : first + len(spofs.items)]
    spofs = dataclasses.replace(
        spofs,
        items=[
            {**spof, "witness_chain": chain}
            for spof, chain in zip(spofs.items, chains, strict=True)
        ],
    )
    # Safe: stored by _figure_json (HTML-safe JSON), not taken from a request.
    figure = Markup(view["figure"])  # noqa: S704
    html = render_template(
        "graph/_service_analysis.html",
        service=service,
        analysis=analysis,
        spofs=spofs,
        common=view["common"],
        figure=figure,
        links=_links("graph.show_node", "node_id", view["node_ids"]),
    )
    return Markup(html), True  # noqa: S704 - autoescaped template output


def _links(endpoint: str, argument: str, ids: dict[Any, int]) -> dict[Any, str]:
    """Links to the pages of an endpoint whose path ends with its one id `argument`, by `ids`'
    keys: url_for once, not once per row (a service may list hundreds of SPOFs)."""
    prefix = url_for(endpoint, **{argument: 0}).removesuffix("0")
    return {key: f"{prefix}{value}" for key, value in ids.items()}


def _service_view(
    key: str, analysis: dict[str, Any], current: Any, ratings: str | None = None
) -> dict[str, Any]:
    """What a business service's page draws from the whole graph (its map, the names along
    each witness chain, its common causes): computed once per graph version and set of risk
    ratings, then read back. `ratings`: their digest, if just read."""
    ratings = ratings or services.ratings_digest(db.session)

    def compute(current: Any) -> dict[str, Any]:
        graph = services.load_graph(db.session, current)
        names = {n.id: n.label for n in graph.nodes}
        closure = graph.effective(None).closure([graph.index[key]])
        graph_map = layout(graph, closure)
        drawn = [n.key for n in graph_map.nodes if not n.grouped]
        figure = dependency_map(
            graph_map,
            _node_url(_key_to_id(drawn)),
            [s["id"] for s in analysis["spofs"]],
            [s["id"] for s in analysis["spofs"] if s["common_cause"]],
            [g["id"] for g in analysis["gaps"]],
            _merge_details(
                _details({"services": [analysis]}),
                _rating_details(graph, region_services.rating_book(db.session), drawn),
            ),
        )
        shown = [s["id"] for s in analysis["spofs"]] + [g["id"] for g in analysis["gaps"]]
        return {
            "figure": _figure_json(figure),
            "witness_chains": [
                " → ".join(names.get(i, i) for i in s["witness"]) for s in analysis["spofs"]
            ],
            "common": _common_causes(graph, analysis),
            "node_ids": _key_to_id(shown),  # node ids are fixed within a graph version
        }

    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    view, _ = services._cached(db.session, f"svc-{digest}-{ratings[:8]}", compute, current)
    return view


def _common_causes(graph: Any, analysis: dict[str, Any]) -> list[dict[str, Any]]:
    """Common causes grouped by the redundant node they defeat: its alternatives, and every
    node under all of them at once."""
    threshold = analysis["rto_hours"]
    eff = graph.effective(threshold)
    groups: dict[str, list[str]] = {}
    for spof in analysis["spofs"]:
        for defeated in spof["common_cause_of"]:
            groups.setdefault(defeated, []).append(spof["name"])
    out = []
    for defeated, causes in groups.items():
        position = graph.index[defeated]
        out.append(
            {
                "name": graph.nodes[position].label,
                "alternatives": [graph.nodes[d].label for d in eff.deps[position]],
                "causes": causes,
            }
        )
    return out


@bp.route("/services/<int:service_id>/edit", methods=["GET", "POST"])
@permission_required("graph.write")
def edit_business_service(service_id: int):
    service = _service_or_404(service_id)
    form = BusinessServiceForm(obj=service)
    if form.validate_on_submit():
        services.update_business_service(db.session, service, form.values())
        db.session.commit()
        flash(f"{service.name} saved.", "success")
        return redirect(url_for("graph.show_business_service", service_id=service.id))
    return render_template("graph/service_form.html", form=form, service=service)


@bp.post("/services/<int:service_id>/archive")
@permission_required("graph.write")
def archive_business_service(service_id: int):
    service = _service_or_404(service_id)
    if ConfirmForm().validate_on_submit():
        services.archive_business_service(db.session, service)
        db.session.commit()
        flash(f"{service.name} archived: it leaves the analyses; its map is kept.", "success")
    return redirect(url_for("graph.show_business_service", service_id=service.id))


@bp.post("/services/<int:service_id>/restore")
@permission_required("graph.write")
def restore_business_service(service_id: int):
    service = _service_or_404(service_id)
    if ConfirmForm().validate_on_submit():
        services.restore_business_service(db.session, service)
        db.session.commit()
        flash(f"{service.name} restored.", "success")
    return redirect(url_for("graph.show_business_service", service_id=service.id))


# --- nodes and edges --------------------------------------------------------------------------


@bp.get("/nodes")
@permission_required("graph.read")
def nodes():
    services.ensure_current(db.session)
    db.session.commit()
    kinds = [k for k in request.args.getlist("kind") if k in {x.value for x in NodeKind}]
    search = request.args.get("q", "").strip() or None
    try:
        stmt = NODE_TABLE.sorted(
            services.node_query(search, kinds or None), request.args.get("sort"), GraphNode.id
        )
        export = request.args.get("export")
        if export:
            return export_response(NODE_TABLE, db.session.scalars(stmt), export)
        page, per_page = _page_args()
    except BadTableRequest as exc:
        flash(str(exc), "warning")
        return redirect(url_for("graph.nodes"))
    return render_template(
        "graph/nodes.html",
        page=paginate(db.session, stmt, page, per_page),
        kinds=[(k.value, KIND_LABELS[k]) for k in NodeKind],
        chosen_kinds=kinds,
        search=search,
        sort=request.args.get("sort") or NODE_TABLE.default_sort,
        can_write=_can_write(),
    )


@bp.route("/nodes/new", methods=["GET", "POST"])
@permission_required("graph.write")
def create_node():
    form = NodeForm()
    if form.validate_on_submit():
        try:
            node = services.create_node(db.session, form.values())
        except services.GraphChangeError as exc:
            getattr(form, exc.field or "name").errors.append(str(exc))
        else:
            db.session.commit()
            flash(f"{node.name} added to the graph. Now say what it depends on.", "success")
            return redirect(url_for("graph.show_node", node_id=node.id))
    return render_template("graph/node_form.html", form=form, node=None)


def _targets(node: GraphNode) -> list[tuple[str, str]]:
    rows = db.session.execute(
        select(GraphNode.id, GraphNode.kind, GraphNode.name, GraphNode.key)
        .where(GraphNode.id != node.id)
        .order_by(GraphNode.kind, func.lower(GraphNode.name))
    )
    return [
        (str(i), f"{KIND_LABELS[NodeKind(kind)]} · {name} ({key})") for i, kind, name, key in rows
    ]


@bp.get("/nodes/<int:node_id>")
@permission_required("graph.read")
def show_node(node_id: int):
    services.ensure_current(db.session)
    node = db.get_or_404(GraphNode, node_id)
    return _render_node(node)


def _render_node(
    node: GraphNode,
    form: NodeForm | None = None,
    dependency_form: DependencyForm | None = None,
    status: int = 200,
):
    dependencies = db.session.scalars(
        select(GraphEdge)
        .where(GraphEdge.source_id == node.id)
        .order_by(GraphEdge.switchover_hours, GraphEdge.id)
    ).all()
    dependants = db.session.scalars(
        select(GraphEdge).where(GraphEdge.target_id == node.id).order_by(GraphEdge.id)
    ).all()
    analysis = services.spof_document(db.session)
    graph = services.load_graph(db.session)
    book = region_services.rating_book(db.session)
    ratings = book.for_node(graph.node(node.key)) if node.key in graph.index else []
    entry = None
    if node.kind == NodeKind.CAPABILITY and node.key in graph.index:
        entry = fallback_services.register(db.session, capability=node.key).entries[0]
    provides = _provides(node)
    db.session.commit()
    spof_of = [
        (item, spof)
        for item in analysis["services"]
        for spof in item["spofs"]
        if spof["id"] == node.key
    ]
    gap_of = [
        (item, gap)
        for item in analysis["services"]
        for gap in item["gaps"]
        if gap["id"] == node.key
    ]
    can_write = _can_write()
    if form is None:
        form = _edit_form(
            node,
            NodeForm(
                formdata=None,
                obj=node,
                dependencies=len(dependencies),
                current=node.requires,
                data={
                    "requires": node.requires,
                    "country": node.country or "",
                    "description": (node.attributes or {}).get("description"),
                },
            ),
        )
    return render_template(
        "graph/node.html",
        node=node,
        dependencies=dependencies,
        dependants=dependants,
        spof_of=spof_of,
        gap_of=gap_of,
        form=form,
        dependency_form=dependency_form
        or DependencyForm(targets=_targets(node) if can_write else []),
        switchover_form=SwitchoverForm(),
        kind_label=KIND_LABELS[NodeKind(node.kind)],
        colour=KIND_COLOURS[NodeKind(node.kind)],
        can_write=can_write,
        ratings=ratings,
        entry=entry,
        provides=provides,
        edge_ids=fallback_services.edge_ids(db.session) if entry else {},
    ), status


def _provides(node: GraphNode) -> list[GraphEdge]:
    """The capabilities this node is a provider of (edges from them to it)."""
    return list(
        db.session.scalars(
            select(GraphEdge)
            .join(GraphNode, GraphNode.id == GraphEdge.source_id)
            .where(GraphEdge.target_id == node.id, GraphNode.kind == NodeKind.CAPABILITY.value)
            .order_by(GraphNode.name)
        )
    )


def _edit_form(node: GraphNode, form: NodeForm) -> NodeForm:
    """The kind and id of a node do not change; a node built from a record keeps its name."""
    del form.kind
    del form.key
    if node.origin == services.RECORD:
        del form.name
    return form


@bp.post("/nodes/<int:node_id>/edit")
@permission_required("graph.write")
def edit_node(node_id: int):
    node = db.get_or_404(GraphNode, node_id)
    form = _edit_form(
        node,
        NodeForm(dependencies=services.dependency_count(db.session, node), current=node.requires),
    )
    if form.validate_on_submit():
        try:
            services.update_node(db.session, node, form.values())
        except services.GraphChangeError as exc:
            getattr(form, exc.field or "name").errors.append(str(exc))
        else:
            db.session.commit()
            flash(f"{node.name} saved.", "success")
            return redirect(url_for("graph.show_node", node_id=node.id))
    db.session.rollback()
    return _render_node(node, form=form, status=422)


@bp.post("/nodes/<int:node_id>/delete")
@permission_required("graph.write")
def delete_node(node_id: int):
    node = db.get_or_404(GraphNode, node_id)
    if ConfirmForm().validate_on_submit():
        try:
            services.delete_node(db.session, node)
        except services.GraphChangeError as exc:
            flash(str(exc), "warning")
            return redirect(url_for("graph.show_node", node_id=node.id))
        db.session.commit()
        flash(f"{node.name} and its dependencies removed from the graph.", "success")
    return redirect(url_for("graph.nodes"))


@bp.post("/nodes/<int:node_id>/dependencies")
@permission_required("graph.write")
def add_dependency(node_id: int):
    node = db.get_or_404(GraphNode, node_id)
    form = DependencyForm(targets=_targets(node))
    if form.validate_on_submit():
        target = db.session.get(GraphNode, int(form.target.data))
        if target is None:
            abort(404)
        try:
            services.add_edge(db.session, node, target, float(form.switchover_hours.data or 0))
        except services.GraphChangeError as exc:
            getattr(form, exc.field or "target").errors.append(str(exc))
        else:
            db.session.commit()
            flash(f"{node.name} now depends on {target.name}.", "success")
            return redirect(url_for("graph.show_node", node_id=node.id))
    db.session.rollback()
    return _render_node(node, dependency_form=form, status=422)


def _edge_or_404(edge_id: int) -> GraphEdge:
    return db.get_or_404(GraphEdge, edge_id)


@bp.post("/edges/<int:edge_id>/switchover")
@permission_required("graph.write")
def edit_switchover(edge_id: int):
    edge = _edge_or_404(edge_id)
    form = SwitchoverForm()
    if form.validate_on_submit():
        services.update_edge(db.session, edge, float(form.switchover_hours.data))
        db.session.commit()
        flash(f"Switchover from {edge.source.name} to {edge.target.name} saved.", "success")
    else:
        errors = "; ".join(e for errs in form.errors.values() for e in errs)
        flash(f"Switchover not saved: {errors}", "warning")
    return redirect(url_for("graph.show_node", node_id=edge.source_id))


@bp.post("/edges/<int:edge_id>/delete")
@permission_required("graph.write")
def delete_edge(edge_id: int):
    edge = _edge_or_404(edge_id)
    source_id = edge.source_id
    if ConfirmForm().validate_on_submit():
        names = (edge.source.name, edge.target.name)
        try:
            services.remove_edge(db.session, edge)
        except services.GraphChangeError as exc:
            flash(str(exc), "warning")
        else:
            db.session.commit()
            flash(f"{names[0]} no longer depends on {names[1]}.", "success")
    return redirect(url_for("graph.show_node", node_id=source_id))


# --- concentration ----------------------------------------------------------------------------


@bp.get("/concentration")
@permission_required("graph.read")
def concentration():
    document = services.concentration_document(db.session)
    db.session.commit()
    kinds = [k for k in request.args.getlist("kind") if k in {x.value for x in NodeKind}]
    items = [i for i in document["items"] if not kinds or i["kind"] in kinds]
    try:
        items = sort_items(items, request.args.get("sort"), CONCENTRATION_SORTS, "rank")
        export = request.args.get("export")
        if export:
            return export_response(CONCENTRATION_TABLE, items, export)
        page, per_page = _page_args()
    except BadTableRequest as exc:
        flash(str(exc), "warning")
        return redirect(url_for("graph.concentration"))
    url = _node_url(_key_to_id())
    ranked = sorted(items, key=lambda i: i["rank"])
    return render_template(
        "graph/concentration.html",
        page=page_of(items, page, per_page),
        figure=concentration_chart(ranked, url),
        kinds=[(k.value, KIND_LABELS[k]) for k in NodeKind],
        chosen_kinds=kinds,
        sort=request.args.get("sort") or "rank",
        node_url=url,
        version=document["graph_version"],
    )


# --- scenarios --------------------------------------------------------------------------------


@bp.get("/scenario")
@permission_required("graph.read")
def scenario():
    graph = services.load_graph(db.session)
    db.session.commit()
    form = ScenarioForm(formdata=request.args)
    vendor_rows = db.session.execute(
        select(Vendor.id, Vendor.name)
        .join(GraphNode, GraphNode.vendor_id == Vendor.id)
        .where(GraphNode.kind == NodeKind.VENDOR)
        .order_by(Vendor.name)
    ).all()
    form.vendors.choices = choices((str(i), name) for i, name in vendor_rows)
    countries = sorted(
        {str(n.attributes["country"]) for n in graph.nodes if n.attributes.get("country")}
    )
    country_ratings = region_services.ratings_for_countries(db.session, countries)
    # Labels stay plain (links and tests choose by them); ratings show beside the result.
    form.countries.choices = choices((c, f"{country_name(c)} ({c})") for c in countries)
    regions = sorted({n.name for n in graph.nodes if n.kind == NodeKind.CLOUD_REGION})
    region_ratings = region_services.ratings_for_regions(db.session, regions)
    form.regions.choices = choices((r, r) for r in regions)
    form.nodes.choices = choices(
        (n.id, f"{KIND_LABELS[NodeKind(n.kind)]} · {n.label}")
        for n in sorted(graph.nodes, key=lambda n: (n.kind, n.label.lower()))
        if n.kind != NodeKind.BUSINESS_SERVICE
    )
    result = None
    asked = any(request.args.getlist(f) for f in ("vendors", "countries", "regions", "nodes"))
    if asked and form.validate():
        try:
            result = services.scenario_document(
                db.session,
                services.ScenarioRequest(
                    fail=form.nodes.data or [],
                    countries=form.countries.data or [],
                    regions=form.regions.data or [],
                    vendors=[int(v) for v in form.vendors.data or []],
                ),
            )
        except services.GraphChangeError as exc:
            flash(str(exc), "warning")
        db.session.commit()
    place_ratings = []
    if result is not None:
        place_ratings = [
            (f"{country_name(c)} ({c})", country_ratings.get(c.upper()))
            for c in form.countries.data or []
        ] + [(r, region_ratings.get(r.lower())) for r in form.regions.data or []]
    return render_template(
        "graph/scenario.html",
        form=form,
        result=result,
        asked=asked,
        node_url=_node_url(_key_to_id()),
        place_ratings=place_ratings,
        high_risk_places=[
            r for r in (*country_ratings.values(), *region_ratings.values()) if r.high_risk
        ],
    )


# --- import and export ------------------------------------------------------------------------


@bp.route("/import", methods=["GET", "POST"])
@permission_required("graph.write")
def import_graph():
    form = ImportForm()
    problems: list[str] = []
    if form.validate_on_submit():
        upload = form.file.data
        edges = form.edges_file.data if form.format.data == "csv" else None
        try:
            graph = read_graph_file(
                upload.read(),
                upload.filename or "upload",
                edges.read() if edges else None,
                (edges.filename or "edges.csv") if edges else "edges.csv",
                form.format.data,
                form.alternatives.data or "",
            )
            summary = services.import_graph(
                db.session, graph, source=f"upload:{upload.filename or 'file'}"
            )
        except InvalidGraph as exc:
            db.session.rollback()
            problems = list(interchange.iter_problems(exc.problems))
        else:
            db.session.commit()
            flash(
                f"Imported {summary.nodes} nodes and {summary.edges} edges; business services: "
                f"{summary.business_services_created} created, "
                f"{summary.business_services_updated} updated.",
                "success",
            )
            return redirect(url_for("graph.index"))
    status = 422 if problems or form.errors else 200
    return render_template("graph/import.html", form=form, problems=problems), status


@bp.get("/export")
@permission_required("graph.read")
def export_graph():
    fmt = request.args.get("format", "json")
    graph = services.export_graph(db.session)
    db.session.commit()
    stamp = date.today().isoformat()
    if fmt == "json":
        return Response(
            interchange.to_json(graph),
            mimetype="application/json",
            headers={"Content-Disposition": f'attachment; filename="graph-{stamp}.json"'},
        )
    if fmt == "csv":
        nodes_csv, edges_csv = interchange.to_csv(graph)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("nodes.csv", nodes_csv)
            archive.writestr("edges.csv", edges_csv)
        return Response(
            buffer.getvalue(),
            mimetype="application/zip",
            headers={"Content-Disposition": f'attachment; filename="graph-{stamp}-csv.zip"'},
        )
    abort(400, description="Export format must be json or csv.")


# --- home page --------------------------------------------------------------------------------


@task_provider
def graph_tasks(session, user) -> list[Task]:
    if user.role not in (Role.ADMIN, Role.VENDOR_MANAGER):
        return []
    # The counts only, not the whole SPOF document (hundreds of MB on a large map).
    current = services.ensure_current(session)
    services.commit_if_written(session)  # before an analysis is computed, if one must be
    needing = summaries.attention(session, current)
    services.commit_if_written(session)
    if not needing["count"]:
        return []
    tasks = [
        Task(
            "Remove single points of failure",
            "Business services that one company, region or component can take down, or whose "
            "requirements are not met at all: "
            + ", ".join(needing["names"][:4])
            + (" …" if needing["count"] > 4 else "")
            + ".",
            url_for("graph.business_services", sort="name"),
            needing["count"],
            "danger" if needing["down"] else "warning",
        )
    ]
    return tasks


# --- the fallback-provider register -------------------------------------------------------------

nav_item("Fallback providers", "graph.fallbacks", "graph.read", order=31)
nav_item("Region risk", "graph.region_risk", "graph.read", order=32)

REGISTER_FILTERS = ("q", "flag", "status", "role", "flagged", "critical")


def _register_rows(entries: list[Any], edge_ids: dict[tuple[str, str], int]) -> list[FallbackRow]:
    rows = []
    for entry in entries:
        for provider in entry.providers:
            rows.append(FallbackRow(entry, provider, edge_ids.get((entry.id, provider.id))))
        if entry.spare < 1:
            rows.append(FallbackRow(entry))  # the missing fallback, with the capability's flags
    return rows


def _register_filters() -> dict[str, Any]:
    args = request.args
    return {
        "q": args.get("q", "").strip(),
        "flag": args.get("flag", "") if args.get("flag") in {c.value for c in FlagCode} else "",
        "status": args.get("status", ""),
        "role": args.get("role", "") if args.get("role") in ("primary", "fallback") else "",
        "flagged": args.get("flagged") == "1",
        "critical": args.get("critical") == "1",
    }


def _keep(row: FallbackRow, filters: dict[str, Any]) -> bool:
    q = filters["q"].lower()
    if (
        q
        and q not in row.entry.name.lower()
        and not (row.provider and q in row.provider.name.lower())
    ):
        return False
    if filters["flag"] and filters["flag"] not in {f.code.value for f in row.shown_flags}:
        return False
    if filters["status"] and row.status != filters["status"]:
        return False
    if filters["role"] and row.role != filters["role"]:
        return False
    if filters["flagged"] and not row.shown_flags:
        return False
    return not (filters["critical"] and not row.entry.critical)


@bp.get("/fallbacks")
@permission_required("graph.read")
def fallbacks():
    result = fallback_services.register(db.session)
    edge_ids = fallback_services.edge_ids(db.session)
    db.session.commit()
    filters = _register_filters()
    rows = [r for r in _register_rows(result.entries, edge_ids) if _keep(r, filters)]
    try:
        rows = sort_items(rows, request.args.get("sort"), FALLBACK_SORTS, "capability")
        export = request.args.get("export")
        if export:
            return export_response(FALLBACK_TABLE, rows, export)
        page, per_page = _page_args()
    except BadTableRequest as exc:
        flash(str(exc), "warning")
        return redirect(url_for("graph.fallbacks"))
    summary = fallback_domain.counts(result.entries)
    key_ids = _key_to_id()
    return render_template(
        "graph/fallbacks.html",
        page=page_of(rows, page, per_page),
        filters=filters,
        summary=summary,
        flag_codes=list(FlagCode),
        statuses=[*(s.value for s in FallbackStatus), "missing", "not recorded"],
        sort=request.args.get("sort") or "capability",
        version=result.graph_version,
        as_of=result.as_of,
        node_url=_node_url(key_ids),
        node_id=key_ids.get,
        has_capabilities=bool(result.entries),
        can_write=_can_write(),
    )


def _fallback_form(edge: GraphEdge | None = None) -> FallbackForm:
    form = FallbackForm(
        capabilities=fallback_services.capability_choices(db.session),
        providers=fallback_services.provider_choices(db.session),
    )
    if edge is not None:
        # The capability and provider of an existing mapping do not change: remove and add.
        del form.capability
        del form.provider
    return form


@bp.route("/fallbacks/new", methods=["GET", "POST"])
@permission_required("graph.write")
def create_fallback():
    services.ensure_current(db.session)
    form = _fallback_form()
    if request.method == "GET" and request.args.get("capability", "").isdigit():
        form.capability.data = request.args["capability"]
    if form.validate_on_submit():
        capability = db.session.get(GraphNode, int(form.capability.data))
        provider = db.session.get(GraphNode, int(form.provider.data))
        if capability is None or provider is None:
            abort(404)
        try:
            fallback_services.add_mapping(db.session, capability, provider, form.terms())
        except services.GraphChangeError as exc:
            db.session.rollback()
            field = exc.field if exc.field in form else "provider"
            form[field].errors = [*form[field].errors, str(exc)]
        else:
            db.session.commit()
            flash(f"{provider.name} now provides {capability.name}.", "success")
            return redirect(url_for("graph.fallbacks", q=capability.name))
    db.session.commit()
    status = 422 if form.errors else 200
    return render_template("graph/fallback_form.html", form=form, edge=None), status


def _mapping_or_404(edge_id: int) -> GraphEdge:
    edge = fallback_services.mapping_edge(db.session, edge_id)
    if edge is None:
        abort(404)
    return edge


@bp.route("/fallbacks/<int:edge_id>/edit", methods=["GET", "POST"])
@permission_required("graph.write")
def edit_fallback(edge_id: int):
    edge = _mapping_or_404(edge_id)
    form = _fallback_form(edge)
    if request.method == "GET":
        terms = fallback_domain.read_terms(edge.attributes or {})
        form.switchover_hours.data = edge.switchover_hours
        form.status.data = terms.status.value if terms.status else ""
        form.last_tested.data = terms.last_tested
        form.capacity_pct.data = terms.capacity_pct
        form.notes.data = terms.notes or None
    if form.validate_on_submit():
        try:
            fallback_services.update_mapping(db.session, edge, form.terms())
        except services.GraphChangeError as exc:
            db.session.rollback()
            field = exc.field if exc.field in form else "status"
            form[field].errors = [*form[field].errors, str(exc)]
        else:
            db.session.commit()
            flash(f"{edge.target.name} for {edge.source.name} saved.", "success")
            return redirect(url_for("graph.fallbacks", q=edge.source.name))
    status = 422 if form.errors else 200
    return render_template("graph/fallback_form.html", form=form, edge=edge), status


@bp.post("/fallbacks/<int:edge_id>/delete")
@permission_required("graph.write")
def delete_fallback(edge_id: int):
    edge = _mapping_or_404(edge_id)
    capability, provider = edge.source.name, edge.target.name
    if ConfirmForm().validate_on_submit():
        try:
            fallback_services.remove_mapping(db.session, edge)
        except services.GraphChangeError as exc:
            db.session.rollback()
            flash(str(exc), "warning")
            return redirect(url_for("graph.edit_fallback", edge_id=edge_id))
        db.session.commit()
        flash(f"{provider} no longer provides {capability}.", "success")
    return redirect(url_for("graph.fallbacks", q=capability))


# --- region risk --------------------------------------------------------------------------------


def _region_filters() -> dict[str, Any]:
    args = request.args
    return {
        "search": args.get("q", "").strip() or None,
        "kinds": [k for k in args.getlist("kind") if k in RATING_KINDS] or None,
        "levels": [v for v in args.getlist("level") if v in {x.value for x in Level}] or None,
        "sources": [s for s in args.getlist("source") if s in region_services.SOURCE_LABELS]
        or None,
    }


def _render_region_risk(
    import_form: RegionImportForm | None = None, problems: list[str] | None = None
):
    filters = _region_filters()
    try:
        stmt = REGION_TABLE.sorted(
            region_services.region_query(**filters), request.args.get("sort"), RegionRisk.id
        )
        export = request.args.get("export")
        if export and problems is None:
            return export_response(REGION_TABLE, db.session.scalars(stmt), export)
        page, per_page = _page_args()
    except BadTableRequest as exc:
        flash(str(exc), "warning")
        return redirect(url_for("graph.region_risk"))
    folder = region_services.risk_dir(current_app)
    counts = dict(
        db.session.execute(
            select(RegionRisk.overall, func.count(RegionRisk.id)).group_by(RegionRisk.overall)
        ).all()
    )
    return render_template(
        "graph/regions.html",
        page=paginate(db.session, stmt, page, per_page),
        filters=filters,
        sort=request.args.get("sort") or REGION_TABLE.default_sort,
        levels=list(Level),
        sources=region_services.SOURCE_LABELS,
        counts=counts,
        import_form=import_form or RegionImportForm(),
        problems=problems or [],
        indices_available=folder.is_dir(),
        can_write=_can_write(),
        can_load=has_permission(current_user, "policies.manage"),
        load_form=ConfirmForm(),
    ), (422 if problems else 200)


@bp.get("/regions")
@permission_required("graph.read")
def region_risk():
    return _render_region_risk()


@bp.post("/regions/import")
@permission_required("graph.write")
def import_region_risk():
    form = RegionImportForm()
    if not form.validate_on_submit():
        return _render_region_risk(form, [])
    upload = form.file.data
    name = upload.filename or "ratings.csv"
    try:
        result = region_services.import_csv(db.session, upload.read(), name)
    except InvalidRatings as exc:
        db.session.rollback()
        return _render_region_risk(form, [str(p) for p in exc.problems[:50]])
    db.session.commit()
    flash(
        f"Imported {result.created + result.updated} ratings from {name}: {result.created} new, "
        f"{result.updated} updated. Imported ratings take precedence over the public indices.",
        "success",
    )
    return redirect(url_for("graph.region_risk", source="import"))


@bp.post("/regions/load-indices")
@permission_required("policies.manage")
def load_region_indices():
    if not ConfirmForm().validate_on_submit():
        abort(400)
    folder = region_services.risk_dir(current_app)
    replace = request.form.get("replace_imported") == "1"
    try:
        result = region_services.load_indices(db.session, folder, replace_imported=replace)
    except IndexFileError as exc:
        db.session.rollback()
        flash(f"The indices were not loaded: {exc}", "danger")
        return redirect(url_for("graph.region_risk"))
    db.session.commit()
    kept = f"; {result.kept} imported ratings kept" if result.kept else ""
    flash(
        f"Loaded the public indices: {result.created} countries new, {result.updated} updated"
        f"{kept}. Not rated (no ISO country code): {', '.join(result.unmapped) or 'none'}.",
        "success",
    )
    return redirect(url_for("graph.region_risk"))


@bp.get("/regions/ratings.csv")
@permission_required("graph.read")
def region_risk_csv():
    """Every rating in the import format (edit and import it back)."""
    stmt = region_services.region_query(**_region_filters()).order_by(
        RegionRisk.kind, RegionRisk.code
    )
    text = regions_domain.to_csv(region_services.to_rating(r) for r in db.session.scalars(stmt))
    return Response(
        text,
        mimetype="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="region-risk-{date.today()}.csv"'},
    )


@bp.post("/regions/<int:rating_id>/delete")
@permission_required("graph.write")
def delete_region_risk(rating_id: int):
    row = db.get_or_404(RegionRisk, rating_id)
    if ConfirmForm().validate_on_submit():
        name = row.name
        region_services.delete_rating(db.session, row)
        db.session.commit()
        flash(f"The rating of {name} was removed.", "success")
    return redirect(url_for("graph.region_risk"))


def _merge_details(*parts: dict[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in parts:
        for key, text in part.items():
            out[key] = f"{out[key]} · {text}" if key in out else text
    return out


def _rating_details(graph: Any, book: Any, keys: Iterable[str] | None = None) -> dict[str, str]:
    """Hover text: the risk ratings of where each node (of `keys`, when given) is."""
    out = {}
    nodes = graph.nodes if keys is None else [graph.node(k) for k in keys if k in graph.index]
    for node in nodes:
        found = book.for_node(node)
        if found:
            out[node.id] = "Risk: " + "; ".join(r.summary() for r in found)
    return out


@task_provider
def fallback_tasks(session, user) -> list[Task]:
    if user.role not in (Role.ADMIN, Role.VENDOR_MANAGER):
        return []
    summary = fallback_services.flagged_summary(session)
    session.commit()
    if summary is None:
        return []
    flagged = summary["flagged"]
    if not flagged:
        return []
    names = ", ".join(e.name for e in flagged[:4]) + (" …" if len(flagged) > 4 else "")
    return [
        Task(
            "Fix flagged fallbacks",
            "Capabilities with no fallback, a fallback sharing a common cause with the primary, "
            f"too slow, untested or in a high-risk region: {names}.",
            url_for("graph.fallbacks", flagged="1", sort="-flags"),
            len(flagged),
            "danger" if summary["danger"] else "warning",
        )
    ]
