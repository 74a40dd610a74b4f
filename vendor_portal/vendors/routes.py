from functools import cache

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from markupsafe import Markup, escape

from vendor_portal.db import utcnow
from vendor_portal.extensions import db
from vendor_portal.forms import ConfirmForm
from vendor_portal.security import get_scoped_or_404, has_permission, permission_required
from vendor_portal.tables import BadTableRequest, export_response, paginate, parse_page_args
from vendor_portal.vendors import bp, services
from vendor_portal.vendors.domain import Tier, VendorStatus, country_choices
from vendor_portal.vendors.forms import ContactForm, ServiceForm, VendorForm
from vendor_portal.vendors.models import Vendor, VendorContact, VendorService
from vendor_portal.vendors.tables import VENDOR_TABLE


def _filters() -> dict:
    args = request.args
    return {
        "search": args.get("q", "").strip() or None,
        "tiers": [t for t in args.getlist("tier") if t in {x.value for x in Tier}] or None,
        "statuses": [s for s in args.getlist("status") if s in {x.value for x in VendorStatus}]
        or None,
        "country": args.get("country") or None,
        "archived": args.get("archived") == "1",
    }


@cache
def _country_options() -> str:
    """The country <option>s, escaped once: the list page renders them on every request."""
    return "".join(
        f'<option value="{code}">{escape(name)}</option>' for code, name in country_choices()
    )


def country_options(selected: str | None) -> Markup:
    html = _country_options()
    if selected:
        html = html.replace(f'value="{selected}">', f'value="{selected}" selected>', 1)
    return Markup(html)  # noqa: S704 (built from escaped ISO data above)


@bp.get("/")
@permission_required("vendors.list")
def index():
    filters = _filters()
    try:
        stmt = VENDOR_TABLE.sorted(
            services.vendor_query(**filters), request.args.get("sort"), Vendor.id
        )
        export = request.args.get("export")
        if export:
            return export_response(VENDOR_TABLE, db.session.scalars(stmt).yield_per(1000), export)
        page, per_page = parse_page_args(
            request.args, current_app.config["PER_PAGE"], current_app.config["MAX_PER_PAGE"]
        )
    except BadTableRequest as exc:
        flash(str(exc), "warning")
        return redirect(url_for("vendors.index"))
    result = paginate(db.session, stmt, page, per_page)
    return render_template(
        "vendors/index.html",
        page=result,
        filters=filters,
        sort=request.args.get("sort") or VENDOR_TABLE.default_sort,
        tiers=list(Tier),
        statuses=list(VendorStatus),
        country_options=country_options(filters["country"]),
        vendor_url=url_for("vendors.show", vendor_id=0)[:-1],
        can_write=has_permission(current_user, "vendors.write"),
    )


@bp.route("/new", methods=["GET", "POST"])
@permission_required("vendors.write")
def create():
    form = VendorForm()
    if form.validate_on_submit():
        try:
            vendor = services.create_vendor(db.session, form.values())
        except services.VendorConflict as exc:
            form.lei.errors.append(str(exc))
        else:
            db.session.commit()
            flash(f"Vendor {vendor.name} created.", "success")
            return redirect(url_for("vendors.show", vendor_id=vendor.id))
    return render_template("vendors/form.html", form=form, vendor=None)


@bp.get("/<int:vendor_id>")
@permission_required("vendors.read")
def show(vendor_id: int):
    vendor = get_scoped_or_404(Vendor, vendor_id, current_user, vendor_attr="id")
    return render_template(
        "vendors/show.html",
        vendor=vendor,
        services=services.active_services(db.session, vendor.id),
        contact_form=ContactForm(),
        can_write=has_permission(current_user, "vendors.write"),
    )


@bp.route("/<int:vendor_id>/edit", methods=["GET", "POST"])
@permission_required("vendors.write")
def edit(vendor_id: int):
    vendor = get_scoped_or_404(Vendor, vendor_id, current_user, vendor_attr="id")
    form = VendorForm(obj=vendor)
    if form.validate_on_submit():
        try:
            services.update_vendor(db.session, vendor, form.values())
        except services.VendorConflict as exc:
            form.lei.errors.append(str(exc))
        else:
            db.session.commit()
            flash("Vendor saved.", "success")
            return redirect(url_for("vendors.show", vendor_id=vendor.id))
    return render_template("vendors/form.html", form=form, vendor=vendor)


@bp.post("/<int:vendor_id>/archive")
@permission_required("vendors.write")
def archive(vendor_id: int):
    vendor = get_scoped_or_404(Vendor, vendor_id, current_user, vendor_attr="id")
    if ConfirmForm().validate_on_submit():
        services.archive_vendor(db.session, vendor)
        db.session.commit()
        flash(
            f"{vendor.name} archived. It no longer appears in lists; restore it from the archive.",
            "success",
        )
    return redirect(url_for("vendors.show", vendor_id=vendor.id))


@bp.post("/<int:vendor_id>/restore")
@permission_required("vendors.write")
def restore(vendor_id: int):
    vendor = get_scoped_or_404(Vendor, vendor_id, current_user, vendor_attr="id")
    if ConfirmForm().validate_on_submit():
        services.restore_vendor(db.session, vendor)
        db.session.commit()
        flash(f"{vendor.name} restored.", "success")
    return redirect(url_for("vendors.show", vendor_id=vendor.id))


@bp.post("/<int:vendor_id>/contacts")
@permission_required("vendors.write")
def add_contact(vendor_id: int):
    vendor = get_scoped_or_404(Vendor, vendor_id, current_user, vendor_attr="id")
    form = ContactForm()
    if form.validate_on_submit():
        services.add_contact(db.session, vendor, form.values())
        db.session.commit()
        flash(f"Contact {form.name.data} added.", "success")
        return redirect(url_for("vendors.show", vendor_id=vendor.id))
    return render_template(
        "vendors/show.html",
        vendor=vendor,
        services=services.active_services(db.session, vendor.id),
        contact_form=form,
        can_write=True,
    ), 422


@bp.post("/<int:vendor_id>/contacts/<int:contact_id>/delete")
@permission_required("vendors.write")
def delete_contact(vendor_id: int, contact_id: int):
    vendor = get_scoped_or_404(Vendor, vendor_id, current_user, vendor_attr="id")
    contact = db.session.get(VendorContact, contact_id)
    if contact is None or contact.vendor_id != vendor.id:
        abort(404)
    if ConfirmForm().validate_on_submit():
        db.session.delete(contact)
        db.session.commit()
        flash(f"Contact {contact.name} removed.", "success")
    return redirect(url_for("vendors.show", vendor_id=vendor.id))


def _load_service(vendor: Vendor, service_id: int) -> VendorService:
    service = db.session.get(VendorService, service_id)
    if service is None or service.vendor_id != vendor.id:
        abort(404)
    return service


@bp.route("/<int:vendor_id>/services/new", methods=["GET", "POST"])
@permission_required("vendors.write")
def create_service(vendor_id: int):
    vendor = get_scoped_or_404(Vendor, vendor_id, current_user, vendor_attr="id")
    form = ServiceForm()
    if form.validate_on_submit():
        service = services.create_service(db.session, vendor, form.values())
        db.session.commit()
        flash(f"Service {service.name} added.", "success")
        return redirect(url_for("vendors.show", vendor_id=vendor.id))
    return render_template("vendors/service_form.html", form=form, vendor=vendor, service=None)


@bp.route("/<int:vendor_id>/services/<int:service_id>/edit", methods=["GET", "POST"])
@permission_required("vendors.write")
def edit_service(vendor_id: int, service_id: int):
    vendor = get_scoped_or_404(Vendor, vendor_id, current_user, vendor_attr="id")
    service = _load_service(vendor, service_id)
    form = ServiceForm(
        obj=service,
        data={
            "hosting_countries": ", ".join(service.hosting_countries or []),
            "cloud_regions": ", ".join(service.cloud_regions or []),
        }
        if request.method == "GET"
        else None,
    )
    if form.validate_on_submit():
        services.update_service(db.session, service, form.values())
        db.session.commit()
        flash(f"Service {service.name} saved.", "success")
        return redirect(url_for("vendors.show", vendor_id=vendor.id))
    return render_template("vendors/service_form.html", form=form, vendor=vendor, service=service)


@bp.post("/<int:vendor_id>/services/<int:service_id>/archive")
@permission_required("vendors.write")
def archive_service(vendor_id: int, service_id: int):
    vendor = get_scoped_or_404(Vendor, vendor_id, current_user, vendor_attr="id")
    service = _load_service(vendor, service_id)
    if ConfirmForm().validate_on_submit():
        services.update_service(db.session, service, {"archived_at": utcnow()})
        db.session.commit()
        flash(f"Service {service.name} archived.", "success")
    return redirect(url_for("vendors.show", vendor_id=vendor.id))
