"""KPI pages: portfolio, scorecards, incidents, imports, KPI targets, measurements, breaches."""

from __future__ import annotations

import weakref
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pandas as pd
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import func, select

from vendor_portal.db import utcnow
from vendor_portal.extensions import db
from vendor_portal.forms import ConfirmForm, choices
from vendor_portal.home.tasks import Task, change_stamp, task_provider
from vendor_portal.kpis import bp, charts, imports, services
from vendor_portal.kpis.caches import attainment_cache, scorecard_cache, stamped_results
from vendor_portal.kpis.domain import (
    FIELD_LABELS,
    METRICS,
    Metric,
    end_of_day,
    format_value,
    guess_mapping,
    months_back,
    period_label,
    period_start_for,
)
from vendor_portal.kpis.files import FileProblem
from vendor_portal.kpis.forms import (
    CloseBreachForm,
    IncidentForm,
    KpiForm,
    MappingForm,
    MeasurementForm,
    PeriodForm,
    UploadForm,
    comma_list,
    month_input,
)
from vendor_portal.kpis.models import Incident, Kpi, KpiBreach, KpiMeasurement
from vendor_portal.kpis.tables import (
    AVAILABILITY_TABLE,
    BREACH_TABLE,
    INCIDENT_TABLE,
    KPI_PERIOD_TABLE,
    KPI_TABLE,
    MEASUREMENT_TABLE,
    PERFORMER_KEYS,
    PERFORMER_TABLE,
)
from vendor_portal.navigation import nav_item
from vendor_portal.security import (
    Role,
    get_scoped_or_404,
    has_permission,
    is_vendor_user,
    permission_required,
    vendor_scope,
)
from vendor_portal.stamped import Kept
from vendor_portal.tables import (
    BadTableRequest,
    Page,
    export_response,
    paginate,
    parse_page_args,
)
from vendor_portal.vendors.domain import ServiceType, Tier
from vendor_portal.vendors.models import Vendor, VendorService

nav_item("KPIs", "kpis.index", "kpis.read", order=30, for_vendor_users=True)

SEVERITY_BADGES = {
    "critical": "text-bg-danger",
    "major": "text-bg-warning",
    "minor": "text-bg-secondary",
    "maintenance": "text-bg-light border",
}
DEFAULT_MONTHS = 12


@bp.app_context_processor
def kpi_helpers() -> dict[str, Any]:
    return {
        "severity_badges": SEVERITY_BADGES,
        "format_value": format_value,
        "period_label": period_label,
    }


def _range() -> tuple[date, date]:
    """The months shown: ?from=YYYY-MM&to=YYYY-MM, by default the last twelve."""
    today = utcnow().date()
    end = month_input(request.args.get("to"), today.replace(day=1))
    start = month_input(request.args.get("from"), months_back(end, DEFAULT_MONTHS))
    if start > end:
        start, end = end, start
    # Whole months: `end` is the last day of its month.
    last_day = (end.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    return start, last_day


def _page_args() -> tuple[int, int]:
    return parse_page_args(
        request.args, current_app.config["PER_PAGE"], current_app.config["MAX_PER_PAGE"]
    )


def _listing(stmt, table, tiebreak, template: str, **context: Any):
    """Sort, export or paginate a scoped select, the same way for every list."""
    try:
        stmt = table.sorted(stmt, request.args.get("sort"), tiebreak)
        export = request.args.get("export")
        if export:
            return export_response(table, db.session.scalars(stmt).unique(), export)
        page, per_page = _page_args()
    except BadTableRequest as exc:
        flash(str(exc), "warning")
        return redirect(url_for(request.endpoint, **(request.view_args or {})))
    result = paginate(db.session, stmt, page, per_page)
    return render_template(
        template, page=result, sort=request.args.get("sort") or table.default_sort, **context
    )


# --- portfolio and scorecards -----------------------------------------------------------------


@bp.get("/")
@permission_required("kpis.read")
def index():
    if is_vendor_user(current_user):
        return redirect(url_for("kpis.scorecard", vendor_id=current_user.vendor_id))
    start, end = _range()
    tiers = [t for t in request.args.getlist("tier") if t in {x.value for x in Tier}]
    types = [t for t in request.args.getlist("service_type") if t in {x.value for x in ServiceType}]
    now = utcnow()
    result = services.portfolio(
        db.session, start, end, now, tiers or None, types or None, cache=attainment_cache()
    )
    sort = request.args.get("sort") or PERFORMER_TABLE.default_sort
    key = PERFORMER_KEYS.get(sort.lstrip("-"))
    if key is None:
        flash(f"Cannot sort by {sort.lstrip('-')!r}.", "warning")
        return redirect(url_for("kpis.index"))
    performers = result.ranked(sort.lstrip("-"), key, sort.startswith("-"))
    export = request.args.get("export")
    if export:
        try:
            if request.args.get("table") == "breaches":
                stmt = services.breach_query(statuses=["open"]).order_by(KpiBreach.id)
                return export_response(BREACH_TABLE, db.session.scalars(stmt), export)
            return export_response(PERFORMER_TABLE, performers, export)
        except BadTableRequest as exc:
            flash(str(exc), "warning")
            return redirect(url_for("kpis.index"))
    # Reused with the portfolio while no stamp changed (breaches and all they show are watched).
    open_breaches = stamped_results().get(
        db.session,
        ("latest_open_breaches",),
        lambda: services.latest_open_breaches(db.session, 50),
        result.stamp,
    )
    open_total = stamped_results().total(
        db.session,
        ("open_breaches",),
        select(KpiBreach.id).where(KpiBreach.status == "open"),
        result.stamp,
    )
    can_write = has_permission(current_user, "kpis.write")
    number, per_page = _page_args()

    def figures() -> tuple[str, bool]:
        # The table pages (a portfolio may hold thousands of vendors); the heatmap shows the
        # vendors of the page, in the portfolio's order.
        first = (number - 1) * per_page
        page = Page(performers[first : first + per_page], number, per_page, len(performers))
        heat_rows = sorted((r for r in page.items if r.by_month), key=result.position)
        scorecard_link = _link_for(
            "kpis.scorecard",
            "vendor_id",
            **{"from": start.strftime("%Y-%m"), "to": end.strftime("%Y-%m")},
        )
        heatmap = charts.attainment_heatmap(
            heat_rows, result.months, [scorecard_link(r.vendor.id) for r in heat_rows]
        )
        html = render_template(
            "kpis/_portfolio.html",
            heatmap=heatmap,
            has_heat=bool(heat_rows),
            performers=page,
            sort=sort,
            open_breaches=open_breaches,
            open_total=open_total,
            can_write=can_write,
            scorecard_link=scorecard_link,
            breach_link=_link_for("kpis.show_breach", "breach_id"),
        )
        return html, bool(heat_rows)

    shown, has_heat = portfolio_figures(result, can_write, figures)
    return render_template(
        "kpis/index.html",
        start=start,
        end=end,
        tiers=list(Tier),
        service_types=list(ServiceType),
        chosen_tiers=tiers,
        chosen_types=types,
        figures=shown,
        has_heat=has_heat,
        sort=sort,
        can_write=can_write,
        recompute_form=_recompute_form(start, end),
    )


# Rendered portfolio figures kept per process: a few query strings per portfolio kept.
PORTFOLIO_FIGURES = 32


def portfolio_figures(
    result: services.Portfolio, can_write: bool, render: Callable[[], tuple[str, bool]]
) -> tuple[Markup, bool]:
    """The portfolio page's heatmap and tables as rendered by `render` (and whether there is
    a heatmap), kept while the same portfolio object is reused: the portfolio cache hands out
    the same object only while no stamp changed and all its figures hold, and everything the
    figures show (the latest open breaches and their total included) is read at its stamp.
    Keyed by what else they depend on: the query string (range, filters, sort, page) and
    where the app is mounted, and whether the user may write (an empty portfolio offers to
    define a KPI)."""
    key = (tuple(request.args.items(multi=True)), request.script_root, can_write)
    kept: Kept = current_app.extensions.setdefault("kpi_portfolio_figures", Kept(PORTFOLIO_FIGURES))
    found = kept.get(key)
    if found is not None and found[0]() is result:
        return found[1], found[2]
    rendered, has_heat = render()
    html = Markup(rendered)  # noqa: S704 - autoescaped template output
    kept.put(key, (weakref.ref(result), html, has_heat))
    return html, has_heat


def _link_for(endpoint: str, name: str, **values: Any) -> Callable[[int], str]:
    """url_for(endpoint, name=id, **values) for the many ids of a long list: the URL is
    built once and each id put in its place (the same URL, at a fraction of the cost)."""
    path, mark, query = url_for(endpoint, **{name: 0}, **values).partition("?")
    if not path.endswith("/0"):  # the id is not the last part of the path: build each one
        return lambda id_: url_for(endpoint, **{name: id_}, **values)
    head = path[:-1]
    return lambda id_: f"{head}{int(id_)}{mark}{query}"


def _recompute_form(start: date, end: date) -> PeriodForm:
    return PeriodForm(formdata=None, data={"start": start, "end": end})


@bp.get("/vendors/<int:vendor_id>")
@permission_required("kpis.read")
def scorecard(vendor_id: int):
    vendor = get_scoped_or_404(Vendor, vendor_id, current_user, vendor_attr="id")
    start, end = _range()
    now = utcnow()
    audited = change_stamp(db.session)  # before the card: a kept part is never older than it
    cache = scorecard_cache()
    basis = services.scorecard_basis(db.session, vendor, start, end, now, cache)
    names = {s.id: s.name for s in basis.services}
    export = request.args.get("export")
    parts = None if export else kept_scorecard_parts(vendor.id, basis, audited)
    if parts is None:
        card = services.scorecard(db.session, vendor, start, end, now, cache, basis)
        if export:
            try:
                if request.args.get("table") == "availability":
                    rows = [
                        {**row, "service": names.get(int(row["service_id"]), "")}
                        for row in card.availability.to_dict("records")
                    ]
                    return export_response(AVAILABILITY_TABLE, rows, export)
                rows = [(r.kpi, p) for r in card.results for p in r.periods]
                return export_response(KPI_PERIOD_TABLE, rows, export)
            except BadTableRequest as exc:
                flash(str(exc), "warning")
                return redirect(url_for("kpis.scorecard", vendor_id=vendor.id))
        summary = render_template(
            "kpis/_scorecard_figures.html",
            card=card,
            trends={r.kpi.id: charts.kpi_trend(r) for r in card.results},
            availability_chart=charts.availability_bars(card.availability, names),
        )
        breaches = render_template("kpis/_scorecard_breaches.html", card=card)
        # Autoescaped template output.
        parts = (Markup(summary), Markup(breaches), card.incidents)  # noqa: S704
        keep_scorecard_parts(vendor.id, card, audited, parts)
    figures, breaches, incidents = parts
    return render_template(
        "kpis/scorecard.html",
        vendor=vendor,
        start=start,
        end=end,
        figures=figures,
        breaches=breaches,
        incidents=incidents,
        # The timeline runs to now: drawn on every view.
        timeline=charts.incident_timeline(incidents, names, start, min(now, end_of_day(end))),
        can_report=has_permission(current_user, "incidents.report"),
        can_write=has_permission(current_user, "kpis.write"),
    )


# Rendered scorecard parts kept per process (a vendor, range and query string each).
SCORECARD_PARTS = 256


def _parts_key(vendor_id: int) -> tuple[Any, ...]:
    return (vendor_id, tuple(request.args.items(multi=True)), request.script_root)


def _parts() -> Kept:
    return current_app.extensions.setdefault("kpi_scorecard_parts", Kept(SCORECARD_PARTS))


def kept_scorecard_parts(
    vendor_id: int, basis: services.ScorecardBasis, audited: Any
) -> tuple[Markup, Markup, Any] | None:
    """A scorecard's rendered summary, KPI results, trends and availability, its rendered open
    breaches and its incidents (for the timeline), kept while they would be the same: the
    scorecard cache holds the same figures object (it hands out the same one only while they
    hold) for the same stamps of the vendor's services (any write to their KPIs, breaches,
    incidents, the services or the vendor replaces one), and the newest audit entry is the
    same (a contract a KPI names, renamed). Keyed by the query string (range, export links)
    and where the app is mounted. Then the page reads neither KPIs nor breaches."""
    if basis.figures is None:
        return None
    found = _parts().get(_parts_key(vendor_id))
    if (
        found is not None
        and found[0]() is basis.figures
        and found[1] == basis.stamps
        and found[2] == audited
    ):
        return found[3]
    return None


def keep_scorecard_parts(
    vendor_id: int, card: services.Scorecard, audited: Any, parts: tuple[Markup, Markup, Any]
) -> None:
    if card.figures is not None:  # not for figures that could not be kept
        kept = (weakref.ref(card.figures), card.stamps, audited, parts)
        _parts().put(_parts_key(vendor_id), kept)


# --- incidents --------------------------------------------------------------------------------


def _date_arg(name: str) -> date | None:
    try:
        return date.fromisoformat(request.args[name]) if request.args.get(name) else None
    except ValueError:
        flash(f"{name} must be a date (YYYY-MM-DD); it was ignored.", "warning")
        return None


@bp.get("/incidents")
@permission_required("kpis.read")
def incidents():
    args = request.args
    vendor_id = args.get("vendor", type=int)
    filters = {
        "vendor_id": vendor_id,
        "service_id": args.get("service", type=int),
        "severities": [s for s in args.getlist("severity") if s in SEVERITY_BADGES] or None,
        "ongoing": args.get("ongoing") == "1",
        "since": _date_arg("since"),
        "until": _date_arg("until"),
        "search": args.get("q", "").strip() or None,
    }
    stmt = vendor_scope(services.incident_query(**filters), VendorService.vendor_id, current_user)
    return _listing(
        stmt,
        INCIDENT_TABLE,
        Incident.id,
        "kpis/incidents.html",
        filters=filters,
        services_in_scope=services.scoped_services(db.session, current_user),
        can_report=has_permission(current_user, "incidents.report"),
    )


def _incident_form(incident: Incident | None = None) -> IncidentForm:
    zones = imports.timezones()
    return IncidentForm(
        obj=incident,
        services=services.scoped_services(db.session, current_user),
        zones=zones,
    )


@bp.route("/incidents/new", methods=["GET", "POST"])
@permission_required("incidents.report")
def create_incident():
    form = _incident_form()
    if request.method == "GET" and request.args.get("service", type=int):
        form.vendor_service_id.data = str(request.args.get("service", type=int))
    if form.validate_on_submit():
        source = "vendor" if is_vendor_user(current_user) else "manual"
        try:
            incident = services.save_incident(
                db.session, None, form.values(), source=source, user_id=current_user.id
            )
        except services.IncidentConflict as exc:
            form.external_id.errors.append(str(exc))
        else:
            _after_incident_change([incident.vendor_service_id], incident.started_at.date())
            flash(f"Incident “{incident.title}” recorded.", "success")
            return redirect(url_for("kpis.show_incident", incident_id=incident.id))
    return render_template("kpis/incident_form.html", form=form, incident=None)


@bp.get("/incidents/<int:incident_id>")
@permission_required("kpis.read")
def show_incident(incident_id: int):
    incident = get_scoped_or_404(Incident, incident_id, current_user)
    return render_template(
        "kpis/incident.html",
        incident=incident,
        can_report=has_permission(current_user, "incidents.report"),
    )


@bp.route("/incidents/<int:incident_id>/edit", methods=["GET", "POST"])
@permission_required("incidents.report")
def edit_incident(incident_id: int):
    incident = get_scoped_or_404(Incident, incident_id, current_user)
    form = _incident_form(incident)
    if request.method == "GET":
        form.vendor_service_id.data = str(incident.vendor_service_id)
        for name in ("started_at", "acknowledged_at", "notified_at", "ended_at"):
            value = getattr(incident, name)
            getattr(form, name).data = value.replace(tzinfo=None) if value else None
    if form.validate_on_submit():
        before = (incident.vendor_service_id, incident.started_at.date())
        try:
            services.save_incident(
                db.session, incident, form.values(), source=incident.source, user_id=None
            )
        except services.IncidentConflict as exc:
            form.external_id.errors.append(str(exc))
        else:
            # Both the service it left and the one it belongs to now may change.
            _after_incident_change(
                [before[0], incident.vendor_service_id],
                min(before[1], incident.started_at.date()),
            )
            flash("Incident saved.", "success")
            return redirect(url_for("kpis.show_incident", incident_id=incident.id))
    return render_template("kpis/incident_form.html", form=form, incident=incident)


def _after_incident_change(service_ids: list[int], earliest: date) -> None:
    """Commit the change, then bring the affected KPIs' breaches up to date and notify."""
    db.session.commit()
    now = utcnow()
    outcome = services.recompute_breaches(
        db.session, earliest, now.date(), now, service_ids=sorted(set(service_ids))
    )
    db.session.commit()
    if outcome.opened:
        services.notify_breaches(db.session, current_app.config)
        db.session.commit()
        flash(
            f"{len(outcome.opened)} KPI breach(es) opened by this change; vendor managers "
            "were notified where email is configured.",
            "warning",
        )


# --- uploads: file, column mapping, preview, import -------------------------------------------


def _kinds() -> dict[str, str]:
    kinds = dict(imports.KINDS)
    if not has_permission(current_user, "kpis.write"):
        kinds.pop("measurements")
    return kinds


@bp.route("/import", methods=["GET", "POST"])
@permission_required("incidents.report")
def upload():
    form = UploadForm(kinds=_kinds())
    if request.method == "GET" and request.args.get("kind") in _kinds():
        form.kind.data = request.args["kind"]
    if form.validate_on_submit():
        file = form.file.data
        staged = services.stage_upload(
            db.session,
            current_user.id,
            form.kind.data,
            file.filename or "upload",
            file.read(),
            utcnow(),
        )
        try:
            columns = imports.file_columns(staged)
        except FileProblem as exc:
            db.session.rollback()
            form.file.errors.append(str(exc))
        else:
            fields = imports.FIELDS.get(staged.kind, ())
            staged.options = {"mapping": guess_mapping(columns, fields), "timezone": "UTC"}
            db.session.commit()
            return redirect(url_for("kpis.map_upload", token=staged.token))
    return render_template("kpis/upload.html", form=form)


def _load_upload(token: str):
    staged = services.find_upload(db.session, token, current_user.id, utcnow())
    if staged is None:
        abort(404, "This upload has expired or was already imported. Upload the file again.")
    if staged.kind == "measurements" and not has_permission(current_user, "kpis.write"):
        abort(404)
    return staged


@bp.route("/import/<token>", methods=["GET", "POST"])
@permission_required("incidents.report")
def map_upload(token: str):
    """Choose columns and options, see a preview with every problem; then import."""
    staged = _load_upload(token)
    try:
        columns = imports.file_columns(staged)
    except FileProblem as exc:  # pragma: no cover - checked at upload
        abort(400, str(exc))
    fields = list(imports.FIELDS.get(staged.kind, ()))
    form = MappingForm.for_upload(
        fields,
        FIELD_LABELS,
        imports.REQUIRED.get(staged.kind, ()),
        columns,
        formdata=request.form if request.method == "POST" else None,
    )
    in_scope = services.scoped_services(db.session, current_user)
    form.service_id.choices = _service_choices(in_scope, staged.kind)
    form.timezone.choices = [(z, z) for z in imports.timezones()]
    options = staged.options or {}
    if request.method == "GET":
        for name, column in (options.get("mapping") or {}).items():
            if hasattr(form, f"column_{name}"):
                getattr(form, f"column_{name}").data = column
        form.service_id.data = str(options.get("service_id") or "")
        form.timezone.data = options.get("timezone") or "UTC"
        form.products.data = ", ".join(options.get("products", []))
        form.locations.data = ", ".join(options.get("locations", []))
        form.disruption.data = options.get("disruption") or "minor"
    elif form.validate_on_submit():
        staged.options = {
            "mapping": form.mapping(),
            "service_id": int(form.service_id.data) if form.service_id.data else None,
            "timezone": form.timezone.data,
            "products": comma_list(form.products.data),
            "locations": comma_list(form.locations.data),
            "disruption": form.disruption.data,
        }
        db.session.flush()
        if request.form.get("action") == "import":
            try:
                result = imports.store(db.session, staged, current_user)
            except imports.ImportRefused:
                db.session.rollback()
                flash("Nothing was imported: correct the problems listed below.", "danger")
                return redirect(url_for("kpis.map_upload", token=token))
            return _after_import(result, staged.kind)
        db.session.commit()
        return redirect(url_for("kpis.map_upload", token=token))
    # A feed needs its service chosen first: no preview (nor problem list) until then.
    waiting = staged.kind == "status_feed" and not options.get("service_id")
    prepared = None if waiting else imports.prepare(db.session, staged, current_user)
    return render_template(
        "kpis/map_upload.html",
        staged=staged,
        form=form,
        prepared=prepared,
        columns=columns,
        labels=FIELD_LABELS,
    )


def _service_choices(in_scope: list[VendorService], kind: str):
    first = (
        ("", "Choose the service the feed reports on…")
        if kind == "status_feed"
        else ("", "— from the vendor service column —")
    )
    return choices([first, *((s.id, f"{s.vendor.name} — {s.name}") for s in in_scope)])


def _after_import(result: services.ImportResult, kind: str):
    db.session.commit()
    what = "measurements" if kind == "measurements" else "incidents"
    flash(f"Imported {what}: {result.created} created, {result.updated} updated.", "success")
    if result.service_ids and result.earliest:
        now = utcnow()
        outcome = services.recompute_breaches(
            db.session,
            min(result.earliest, now.date()),
            now.date(),
            now,
            service_ids=sorted(result.service_ids),
        )
        db.session.commit()
        if outcome.opened:
            services.notify_breaches(db.session, current_app.config)
            db.session.commit()
            flash(f"{len(outcome.opened)} KPI breach(es) opened.", "warning")
    if kind == "measurements":
        return redirect(url_for("kpis.measurements"))
    return redirect(url_for("kpis.incidents", sort="-started_at"))


# --- KPI targets ------------------------------------------------------------------------------


@bp.get("/targets")
@permission_required("kpis.read")
def targets():
    archived = request.args.get("archived") == "1"
    stmt = vendor_scope(
        services.kpi_query(vendor_id=request.args.get("vendor", type=int), archived=archived),
        VendorService.vendor_id,
        current_user,
    )
    return _listing(
        stmt,
        KPI_TABLE,
        Kpi.id,
        "kpis/targets.html",
        archived=archived,
        can_write=has_permission(current_user, "kpis.write"),
        metrics=METRICS,
    )


@bp.route("/targets/new", methods=["GET", "POST"])
@permission_required("kpis.write")
def create_target():
    form = KpiForm(
        services=services.scoped_services(db.session, current_user),
        contracts=services.scoped_contracts(db.session, current_user),
    )
    if request.method == "GET":
        if request.args.get("contract", type=int):
            form.contract_id.data = str(request.args.get("contract", type=int))
        if request.args.get("service", type=int):
            form.vendor_service_id.data = str(request.args.get("service", type=int))
        form.threshold.data = None
    if form.validate_on_submit():
        try:
            kpi = services.save_kpi(db.session, None, form.values())
        except services.KpiConflict as exc:
            form.code.errors.append(str(exc))
        except services.KpiContractMismatch as exc:
            form.contract_id.errors.append(str(exc))
        else:
            db.session.commit()
            flash(f"KPI “{kpi.name}” defined.", "success")
            return redirect(url_for("kpis.targets"))
    return render_template("kpis/target_form.html", form=form, kpi=None, metrics=METRICS)


@bp.route("/targets/<int:kpi_id>/edit", methods=["GET", "POST"])
@permission_required("kpis.write")
def edit_target(kpi_id: int):
    kpi = get_scoped_or_404(Kpi, kpi_id, current_user)
    form = KpiForm(
        obj=kpi,
        services=services.scoped_services(db.session, current_user),
        contracts=services.scoped_contracts(db.session, current_user),
    )
    if request.method == "GET":
        form.vendor_service_id.data = str(kpi.vendor_service_id)
        form.contract_id.data = str(kpi.contract_id or "")
        form.code.data = kpi.code if kpi.metric == Metric.CUSTOM else None
        form.unit.data = kpi.unit if kpi.metric == Metric.CUSTOM else None
    if form.validate_on_submit():
        try:
            services.save_kpi(db.session, kpi, form.values())
        except services.KpiConflict as exc:
            form.code.errors.append(str(exc))
        except services.KpiContractMismatch as exc:
            form.contract_id.errors.append(str(exc))
        else:
            db.session.commit()
            flash(
                f"KPI “{kpi.name}” saved. Recompute breaches to apply a changed target.", "success"
            )
            return redirect(url_for("kpis.targets"))
    return render_template("kpis/target_form.html", form=form, kpi=kpi, metrics=METRICS)


@bp.post("/targets/<int:kpi_id>/archive")
@permission_required("kpis.write")
def archive_target(kpi_id: int):
    kpi = get_scoped_or_404(Kpi, kpi_id, current_user)
    if ConfirmForm().validate_on_submit():
        kpi.archived_at = None if kpi.archived_at else utcnow()
        db.session.commit()
        flash(f"KPI “{kpi.name}” {'archived' if kpi.archived_at else 'restored'}.", "success")
    return redirect(url_for("kpis.targets"))


# --- measurements -----------------------------------------------------------------------------


def _measured_kpis() -> list[Kpi]:
    measured = [m.value for m, info in METRICS.items() if not info.from_incidents]
    return [k for k in services.active_kpis(db.session) if k.metric in measured]


@bp.route("/measurements", methods=["GET", "POST"])
@permission_required("kpis.read")
def measurements():
    can_write = has_permission(current_user, "kpis.write")
    form = MeasurementForm(kpis=_measured_kpis()) if can_write else None
    if request.method == "POST":
        if form is None:
            abort(403)
        if form.validate_on_submit():
            kpi = get_scoped_or_404(Kpi, int(form.kpi_id.data), current_user)
            start = period_start_for(form.period_start.data, kpi.period)
            frame = pd.DataFrame(
                [
                    {
                        "service_id": kpi.vendor_service_id,
                        "code": kpi.code,
                        "period_start": start,
                        "value": float(form.value.data),
                        "note": form.note.data,
                    }
                ]
            )
            result = services.upsert_measurements(
                db.session, frame, source="manual", user_id=current_user.id
            )
            flash(
                f"Measurement for {kpi.name} in {period_label(start, kpi.period)} "
                + ("recorded." if result.created else "updated."),
                "success",
            )
            return _after_import_redirect(result)
    stmt = vendor_scope(
        services.measurement_query(vendor_id=request.args.get("vendor", type=int)),
        VendorService.vendor_id,
        current_user,
    )
    return _listing(
        stmt,
        MEASUREMENT_TABLE,
        KpiMeasurement.id,
        "kpis/measurements.html",
        form=form,
        can_write=can_write,
    )


def _after_import_redirect(result: services.ImportResult):
    db.session.commit()
    now = utcnow()
    outcome = services.recompute_breaches(
        db.session,
        result.earliest or now.date(),
        now.date(),
        now,
        service_ids=sorted(result.service_ids),
    )
    db.session.commit()
    if outcome.opened:
        services.notify_breaches(db.session, current_app.config)
        db.session.commit()
        flash(f"{len(outcome.opened)} KPI breach(es) opened.", "warning")
    return redirect(url_for("kpis.measurements"))


# --- breaches ---------------------------------------------------------------------------------

BREACH_STATUSES = ("open", "closed", "withdrawn")


@bp.get("/breaches")
@permission_required("kpis.read")
def breaches():
    statuses = [s for s in request.args.getlist("status") if s in BREACH_STATUSES]
    if "status" not in request.args:
        statuses = ["open"]
    stmt = vendor_scope(
        services.breach_query(
            statuses=statuses or None, vendor_id=request.args.get("vendor", type=int)
        ),
        KpiBreach.vendor_id,
        current_user,
    )
    return _listing(
        stmt,
        BREACH_TABLE,
        KpiBreach.id,
        "kpis/breaches.html",
        statuses=statuses,
        all_statuses=BREACH_STATUSES,
    )


@bp.get("/breaches/<int:breach_id>")
@permission_required("kpis.read")
def show_breach(breach_id: int):
    breach = get_scoped_or_404(KpiBreach, breach_id, current_user)
    incidents = []
    if breach.kpi.from_incidents:
        incidents = list(
            db.session.scalars(
                services.incident_query(
                    service_id=breach.vendor_service_id,
                    since=breach.period_start,
                    until=breach.period_end - timedelta(days=1),
                ).order_by(Incident.started_at)
            )
        )
    return render_template(
        "kpis/breach.html",
        breach=breach,
        incidents=incidents,
        close_form=CloseBreachForm(),
        can_write=has_permission(current_user, "kpis.write"),
    )


@bp.post("/breaches/<int:breach_id>/close")
@permission_required("kpis.write")
def close_breach(breach_id: int):
    breach = get_scoped_or_404(KpiBreach, breach_id, current_user)
    form = CloseBreachForm()
    if breach.status != "open":
        flash("Only an open breach can be closed.", "warning")
    elif form.validate_on_submit():
        services.close_breach(db.session, breach, current_user.id, form.note.data)
        db.session.commit()
        flash("Breach closed.", "success")
    else:
        flash("Say how the breach was resolved before closing it.", "danger")
    return redirect(url_for("kpis.show_breach", breach_id=breach.id))


@bp.post("/recompute")
@permission_required("kpis.write")
def recompute():
    form = PeriodForm()
    if not form.validate_on_submit():
        problems = "; ".join(e for errors in form.errors.values() for e in errors)
        flash(f"Breaches not recomputed: {problems}", "danger")
        return redirect(url_for("kpis.index"))
    now = utcnow()
    outcome = services.recompute_breaches(db.session, form.start.data, form.end.data, now)
    db.session.commit()
    notified = services.notify_breaches(db.session, current_app.config)
    db.session.commit()
    flash(
        f"Recomputed {outcome.evaluated} KPI periods from {form.start.data:%Y-%m} to "
        f"{form.end.data:%Y-%m}: {len(outcome.opened)} breach(es) opened, "
        f"{len(outcome.withdrawn)} withdrawn, {outcome.updated} updated"
        + (f"; {notified} notified by email." if notified else "."),
        "success",
    )
    return redirect(url_for("kpis.breaches"))


# --- home-page tasks --------------------------------------------------------------------------


@task_provider
def kpi_tasks(session, user) -> list[Task]:
    tasks: list[Task] = []
    if user.role in (Role.ADMIN, Role.VENDOR_MANAGER):
        count = session.scalar(select(func.count(KpiBreach.id)).where(KpiBreach.status == "open"))
        if count:
            tasks.append(
                Task(
                    "Review KPI breaches",
                    "Vendors that missed a contractual KPI target: claim service credits, "
                    "follow up the findings, close each breach.",
                    url_for("kpis.breaches", status="open"),
                    count,
                    "danger",
                )
            )
    if user.role == Role.VENDOR_USER and user.vendor_id is not None:
        count = session.scalar(
            select(func.count(KpiBreach.id)).where(
                KpiBreach.status == "open", KpiBreach.vendor_id == user.vendor_id
            )
        )
        if count:
            tasks.append(
                Task(
                    "Your KPI breaches",
                    "Periods in which your service missed a contractual target; your account "
                    "manager will follow up through findings.",
                    url_for("kpis.breaches", status="open"),
                    count,
                    "danger",
                )
            )
        ongoing = session.scalar(
            select(func.count(Incident.id))
            .join(VendorService, Incident.vendor_service_id == VendorService.id)
            .where(VendorService.vendor_id == user.vendor_id, Incident.ended_at.is_(None))
        )
        tasks.append(
            Task(
                "Report incidents" if not ongoing else "Update your ongoing incidents",
                "Tell us about disruptions of your services, with when you acknowledged them "
                "and notified us."
                if not ongoing
                else "Incidents still open: record when they ended.",
                url_for("kpis.incidents", ongoing="1")
                if ongoing
                else url_for("kpis.create_incident"),
                ongoing or None,
                "warning" if ongoing else "primary",
            )
        )
    return tasks
