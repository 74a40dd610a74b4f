"""Contracts (the parts the procurement gate will build on) and the obligation library."""

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import contains_eager, selectinload

from vendor_portal.contracts import bp, services
from vendor_portal.contracts.domain import ContractStatus
from vendor_portal.contracts.forms import ContractForm, ObligationForm
from vendor_portal.contracts.models import Contract, Obligation
from vendor_portal.db import utcnow
from vendor_portal.extensions import db
from vendor_portal.forms import ConfirmForm, choices
from vendor_portal.navigation import nav_item
from vendor_portal.security import has_permission, permission_required
from vendor_portal.tables import (
    BadTableRequest,
    Column,
    Table,
    count_rows,
    export_response,
    paginate,
    parse_page_args,
)
from vendor_portal.vendors.models import Vendor, VendorService

nav_item("Contracts", "contracts.index", "contracts.read", order=40)

CONTRACT_TABLE = Table(
    columns=[
        Column("id", "ID", lambda c: c.id, Contract.id),
        Column("title", "Title", lambda c: c.title, Contract.title),
        Column("vendor", "Vendor", lambda c: c.vendor.name, Vendor.name),
        Column("status", "Status", lambda c: c.status, Contract.status),
        Column("start_date", "Start", lambda c: c.start_date, Contract.start_date),
        Column("end_date", "End", lambda c: c.end_date, Contract.end_date),
        Column("clauses", "Clauses", lambda c: ", ".join(o.code for o in c.clauses)),
    ],
    default_sort="-id",
    export_name="contracts",
)


@bp.get("/")
@permission_required("contracts.read")
def index():
    # The vendor comes with the join (its name is on every row), not one query per row; an
    # outer join on a required key keeps every contract and lets the database drop the join
    # when it only counts the rows. The page shows how many clauses, the export which ones.
    stmt = (
        select(Contract)
        .outerjoin(Vendor, Vendor.id == Contract.vendor_id)
        .options(contains_eager(Contract.vendor))
    )
    if request.args.get("status"):
        stmt = stmt.where(Contract.status == request.args["status"])
    if request.args.get("q"):
        pattern = f"%{request.args['q'].strip().lower()}%"
        stmt = stmt.where(
            db.func.lower(Contract.title).like(pattern) | db.func.lower(Vendor.name).like(pattern)
        )
    try:
        stmt = CONTRACT_TABLE.sorted(stmt, request.args.get("sort"), Contract.id)
        if request.args.get("export"):
            return export_response(
                CONTRACT_TABLE,
                db.session.scalars(stmt.options(selectinload(Contract.clauses))),
                request.args["export"],
            )
        page, per_page = parse_page_args(
            request.args, current_app.config["PER_PAGE"], current_app.config["MAX_PER_PAGE"]
        )
    except BadTableRequest as exc:
        flash(str(exc), "warning")
        return redirect(url_for("contracts.index"))
    # The page shows six columns: plain rows, not Contract and Vendor objects.
    shown = stmt.with_only_columns(
        Contract.id,
        Contract.title,
        Vendor.name.label("vendor_name"),
        Contract.status,
        Contract.start_date,
        Contract.end_date,
        services.clause_count().label("clause_count"),
        maintain_column_froms=True,
    )
    return render_template(
        "contracts/index.html",
        # Counted without the clause counts.
        page=paginate(db.session, shown, page, per_page, count_rows(db.session, stmt), rows=True),
        sort=request.args.get("sort") or CONTRACT_TABLE.default_sort,
        statuses=list(ContractStatus),
        # One url_for, not one per row: the link is this prefix and the contract's id.
        contract_url=url_for("contracts.show", contract_id=0)[:-1],
        can_write=has_permission(current_user, "contracts.write"),
    )


def _contract_form(contract: Contract | None, vendor_id: int | None) -> ContractForm:
    form = ContractForm(obj=contract)
    vendors = db.session.execute(
        select(Vendor.id, Vendor.name)
        .where(Vendor.archived_at.is_(None), Vendor.direct)
        .order_by(Vendor.name)
    ).all()
    form.vendor_id.choices = choices(vendors)
    chosen = (
        contract.vendor_id
        if contract
        else (form.vendor_id.data or vendor_id or (vendors[0][0] if vendors else None))
    )
    if contract is None and request.method == "GET" and vendor_id:
        form.vendor_id.data = vendor_id
    service_rows = db.session.execute(
        select(VendorService.id, VendorService.name).where(
            VendorService.vendor_id == chosen, VendorService.archived_at.is_(None)
        )
    ).all()
    form.vendor_service_ids.choices = choices(service_rows)
    form.clause_ids.choices = choices(
        (
            o.id,
            o.title
            + (" (mandatory)" if contract and o.mandatory_for(contract.vendor.tier) else ""),
        )
        for o in services.library(db.session)
    )
    others = db.session.execute(
        select(Contract.id, Contract.title)
        .where(Contract.id != (contract.id if contract else -1))
        .order_by(Contract.title)
    ).all()
    form.parent_id.choices = choices([("", "—"), *others])
    form.renews_id.choices = choices([("", "—"), *others])
    if contract is None:
        # A new contract starts as a draft; its services are chosen once its vendor is fixed.
        del form.vendor_service_ids
    elif request.method == "GET":
        form.vendor_service_ids.data = [s.id for s in contract.services]
        form.clause_ids.data = [o.id for o in contract.clauses]
    return form


def _terms(form: ContractForm) -> dict:
    return {
        "renewal_date": form.renewal_date.data,
        "notice_date": form.notice_date.data,
        "value": form.value.data,
        "currency": form.currency.data,
        "parent_id": form.parent_id.data,
        "renews_id": form.renews_id.data,
    }


@bp.route("/new", methods=["GET", "POST"])
@permission_required("contracts.write")
def create():
    form = _contract_form(None, request.args.get("vendor_id", type=int))
    if form.validate_on_submit():
        vendor = db.session.get(Vendor, form.vendor_id.data)
        try:
            contract = services.create_contract(
                db.session,
                vendor,
                title=form.title.data,
                reference=form.reference.data,
                start_date=form.start_date.data,
                end_date=form.end_date.data,
                clause_ids=form.clause_ids.data or [],
                **_terms(form),
            )
        except services.ContractError as exc:
            getattr(form, exc.field or "title").errors.append(str(exc))
        else:
            db.session.commit()
            flash(f"Contract “{contract.title}” drafted.", "success")
            return redirect(url_for("contracts.show", contract_id=contract.id))
    return render_template("contracts/form.html", form=form, contract=None)


@bp.get("/<int:contract_id>")
@permission_required("contracts.read")
def show(contract_id: int):
    contract = db.session.get(Contract, contract_id) or abort(404)
    library = services.library(db.session)
    return render_template(
        "contracts/show.html",
        contract=contract,
        missing=services.missing_mandatory_clauses(contract, library),
        can_write=has_permission(current_user, "contracts.write"),
    )


@bp.route("/<int:contract_id>/edit", methods=["GET", "POST"])
@permission_required("contracts.write")
def edit(contract_id: int):
    contract = db.session.get(Contract, contract_id) or abort(404)
    form = _contract_form(contract, None)
    form.vendor_id.render_kw = {"disabled": True}
    form.vendor_id.data = contract.vendor_id
    if form.validate_on_submit():
        try:
            services.update_contract(
                db.session,
                contract,
                {
                    "title": form.title.data,
                    "reference": form.reference.data,
                    "start_date": form.start_date.data,
                    "end_date": form.end_date.data,
                    **_terms(form),
                    "vendor_service_ids": form.vendor_service_ids.data or [],
                    "clause_ids": form.clause_ids.data or [],
                },
            )
        except services.ContractError as exc:
            getattr(form, exc.field or "title").errors.append(str(exc))
        else:
            db.session.commit()
            flash("Contract saved.", "success")
            return redirect(url_for("contracts.show", contract_id=contract.id))
    return render_template("contracts/form.html", form=form, contract=contract)


@bp.get("/obligations")
@permission_required("contracts.read")
def obligations():
    return render_template(
        "contracts/obligations.html",
        obligations=services.library(db.session, include_archived=True),
        can_manage=has_permission(current_user, "policies.manage"),
        confirm=ConfirmForm(),
    )


@bp.route("/obligations/new", methods=["GET", "POST"])
@bp.route("/obligations/<int:obligation_id>", methods=["GET", "POST"])
@permission_required("policies.manage")
def edit_obligation(obligation_id: int | None = None):
    obligation = db.session.get(Obligation, obligation_id) if obligation_id else None
    if obligation_id and obligation is None:
        abort(404)
    form = ObligationForm(obj=obligation)
    if form.validate_on_submit():
        clash = db.session.scalar(
            select(Obligation).where(
                Obligation.code == form.code.data, Obligation.id != (obligation_id or -1)
            )
        )
        if clash is not None:
            form.code.errors.append(
                f"The code {form.code.data} is already used by “{clash.title}”."
            )
        else:
            if obligation is None:
                obligation = Obligation()
                db.session.add(obligation)
            obligation.code = form.code.data
            obligation.title = form.title.data
            obligation.description = form.description.data
            obligation.mandatory_tiers = form.mandatory_tiers.data or []
            db.session.commit()
            flash(f"Obligation “{obligation.title}” saved.", "success")
            return redirect(url_for("contracts.obligations"))
    return render_template("contracts/obligation_form.html", form=form, obligation=obligation)


@bp.post("/obligations/<int:obligation_id>/archive")
@permission_required("policies.manage")
def archive_obligation(obligation_id: int):
    obligation = db.session.get(Obligation, obligation_id) or abort(404)
    if ConfirmForm().validate_on_submit():
        obligation.archived_at = None if obligation.archived_at else utcnow()
        db.session.commit()
        flash(
            f"“{obligation.title}” {'archived' if obligation.archived_at else 'restored'}.",
            "success",
        )
    return redirect(url_for("contracts.obligations"))
