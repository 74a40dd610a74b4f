"""`flask --app vendor_portal graph COMMAND`: import, export, SPOFs and scenarios."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import click
from flask import current_app

from vendor_portal.audit.services import Actor, set_actor
from vendor_portal.extensions import db
from vendor_portal.graph import bp, fallbacks, regions, services
from vendor_portal.graph.domain import fallbacks as fallback_domain
from vendor_portal.graph.domain import interchange
from vendor_portal.graph.domain.files import FORMATS, read_graph_file
from vendor_portal.graph.domain.interchange import InvalidGraph
from vendor_portal.graph.domain.regions import IndexFileError, InvalidRatings


def _fail(exc: InvalidGraph) -> click.ClickException:
    lines = "\n".join(f"  {line}" for line in interchange.iter_problems(exc.problems))
    count = len(exc.problems)
    return click.ClickException(
        f"Nothing was imported: {count} problem{'s' if count != 1 else ''}.\n{lines}"
    )


@bp.cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--edges",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The edges CSV; FILE is then the nodes CSV.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="auto",
    show_default=True,
    help="json: interchange JSON; csv: nodes CSV (and --edges); willems: a Willems (2008) "
    "supply chain. auto guesses from the file.",
)
@click.option(
    "--alternatives",
    default="",
    help="Willems chains: stage classes (e.g. Dist,Retail) that any one upstream stage can "
    "supply; other stages need all their upstream stages.",
)
def import_command(file: Path, edges: Path | None, fmt: str, alternatives: str) -> None:
    """Replace the dependency graph with FILE (all or nothing)."""
    set_actor(Actor(None, "cli:graph import"))
    try:
        graph = read_graph_file(
            file.read_bytes(),
            file.name,
            edges.read_bytes() if edges else None,
            edges.name if edges else "edges.csv",
            fmt,
            alternatives,
        )
        summary = services.import_graph(db.session, graph, source=f"cli:{file.name}")
    except InvalidGraph as exc:
        db.session.rollback()
        raise _fail(exc) from exc
    db.session.commit()
    click.echo(
        f"Imported {summary.nodes} nodes and {summary.edges} edges (graph version "
        f"{summary.version}); business services: {summary.business_services_created} created, "
        f"{summary.business_services_updated} updated."
    )


@bp.cli.command("export")
@click.option(
    "--format", "fmt", type=click.Choice(("json", "csv")), default="json", show_default=True
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write here instead of standard output (csv: the nodes file).",
)
@click.option(
    "--edges-output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="csv: where to write the edges file (required with --format csv).",
)
def export_command(fmt: str, output: Path | None, edges_output: Path | None) -> None:
    """Write the dependency graph in the interchange format."""
    graph = services.export_graph(db.session)
    db.session.commit()  # records the graph may have been brought in step with
    if fmt == "json":
        text = interchange.to_json(graph)
        if output:
            output.write_text(text, encoding="utf-8")
        else:
            click.echo(text, nl=False)
        return
    if output is None or edges_output is None:
        raise click.UsageError("--format csv needs --output NODES.csv and --edges-output EDGES.csv")
    nodes_csv, edges_csv = interchange.to_csv(graph)
    output.write_text(nodes_csv, encoding="utf-8")
    edges_output.write_text(edges_csv, encoding="utf-8")
    click.echo(
        f"Wrote {len(graph.nodes)} nodes to {output} and {len(graph.edges)} edges to "
        f"{edges_output}."
    )


@bp.cli.command("spof")
@click.option("--service", help="One business service: its node id or its record id.")
@click.option(
    "--format", "fmt", type=click.Choice(("text", "json")), default="text", show_default=True
)
def spof_command(service: str | None, fmt: str) -> None:
    """Single points of failure and gaps per business service (as GET /api/v1/graph/spof)."""
    if service is not None:
        try:
            document = services.spof_document(db.session, service)
        except services.UnknownService as exc:
            raise click.ClickException(str(exc)) from exc
        entries: Iterable[dict[str, Any]] = document["services"]
        version = document["graph_version"]
    else:
        # The whole document runs to hundreds of MB on a large map: one service at a time.
        current = services.ensure_current(db.session)
        version = current.version
        entries = (json.loads(text) for text in services.iter_spof_entries(db.session, current))
    if fmt == "json":
        click.echo(f'{{\n  "graph_version": {version},\n  "services": [', nl=False)
        for n, item in enumerate(entries):
            text = json.dumps(item, indent=2, sort_keys=True, ensure_ascii=False)
            click.echo(("," if n else "") + "\n    " + text.replace("\n", "\n    "), nl=False)
        click.echo("\n  ]\n}")
        db.session.commit()
        return
    for item in entries:
        status = "DOWN with nothing failed" if item["down"] else f"{len(item['spofs'])} SPOFs"
        click.echo(f"{item['name']} ({item['id']}): {status}")
        for spof in item["spofs"]:
            mark = " [common cause]" if spof["common_cause"] else ""
            click.echo(f"  - {spof['name']}{mark}: {spof['explanation']}")
        for gap in item["gaps"]:
            click.echo(f"  gap: {gap['explanation']}")
    db.session.commit()


@bp.cli.command("scenario")
@click.option("--fail", "fail", multiple=True, help="A node id to fail (repeatable).")
@click.option("--country", multiple=True, help="Fail everything in this country (ISO alpha-2).")
@click.option("--region", multiple=True, help="Fail this cloud region (repeatable).")
@click.option(
    "--format", "fmt", type=click.Choice(("text", "json")), default="text", show_default=True
)
def scenario_command(
    fail: tuple[str, ...], country: tuple[str, ...], region: tuple[str, ...], fmt: str
) -> None:
    """Which business services go down beyond their RTO, and what it costs per hour."""
    try:
        document = services.scenario_document(
            db.session,
            services.ScenarioRequest(
                fail=list(fail), countries=list(country), regions=list(region)
            ),
        )
    except services.GraphChangeError as exc:
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    if fmt == "json":
        click.echo(json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False))
        return
    failed = ", ".join(n["name"] for n in document["failed"]) or "nothing"
    click.echo(f"Failed: {failed}")
    click.echo(
        f"Down beyond RTO: {len(document['down_services'])} services, "
        f"{document['cost_per_hour']:,.0f} per hour"
    )
    for item in document["down_services"]:
        click.echo(f"  - {item['name']} (RTO {item['rto_hours']} h)")
    click.echo("Restoration order:")
    for step in document["restoration_order"]:
        names = ", ".join(n["name"] for n in step["nodes"])
        click.echo(f"  {step['wave']}. {'loop: ' if step['loop'] else ''}{names}")


@bp.cli.command("rebuild")
def rebuild_command() -> None:
    """Bring the nodes built from records (vendors, services, hosting) in step with them."""
    set_actor(Actor(None, "cli:graph rebuild"))
    changed = services.rebuild_from_records(db.session)
    db.session.commit()
    click.echo("Graph rebuilt from records." if changed else "Graph already in step with records.")


@bp.cli.command("load-country-risk")
@click.option(
    "--folder",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The country_risk folder of the shared data (default: VENDOR_PORTAL_COUNTRY_RISK_DIR, "
    "else ../shared/data/country_risk beside the repository).",
)
@click.option(
    "--replace-imported",
    is_flag=True,
    help="Also overwrite ratings imported from CSV (kept by default).",
)
def load_country_risk_command(folder: Path | None, replace_imported: bool) -> None:
    """Load the default country ratings from the public indices (WGI political stability,
    ND-GAIN exposure and vulnerability)."""
    set_actor(Actor(None, "cli:graph load-country-risk"))
    folder = folder or regions.risk_dir(current_app)
    try:
        result = regions.load_indices(db.session, folder, replace_imported)
    except IndexFileError as exc:
        db.session.rollback()
        raise click.ClickException(f"Nothing was loaded: {exc}") from exc
    db.session.commit()
    click.echo(
        f"Country ratings: {result.created} created, {result.updated} updated, {result.kept} "
        f"imported ratings kept. No ISO country for: {', '.join(result.unmapped) or 'none'}."
    )


@bp.cli.command("import-region-risk")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_region_risk_command(file: Path) -> None:
    """Import region ratings from a CSV file (all or nothing)."""
    set_actor(Actor(None, "cli:graph import-region-risk"))
    try:
        result = regions.import_csv(db.session, file.read_bytes(), file.name)
    except InvalidRatings as exc:
        db.session.rollback()
        lines = "\n".join(f"  {p}" for p in exc.problems[:50])
        raise click.ClickException(f"Nothing was imported.\n{lines}") from exc
    db.session.commit()
    click.echo(f"Imported {result.created} new and {result.updated} updated ratings.")


@bp.cli.command("fallbacks")
@click.option("--flagged", is_flag=True, help="Only capabilities with a flag.")
@click.option(
    "--format", "fmt", type=click.Choice(("text", "json")), default="text", show_default=True
)
def fallbacks_command(flagged: bool, fmt: str) -> None:
    """The fallback-provider register with its flags (as GET /api/v1/fallbacks)."""
    result = fallbacks.register(db.session)
    db.session.commit()
    entries = [e for e in result.entries if e.flagged or not flagged]
    if fmt == "json":
        document = {
            "graph_version": result.graph_version,
            "as_of": result.as_of.isoformat(),
            "capabilities": [fallback_domain.entry_document(e) for e in entries],
        }
        click.echo(json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False))
        return
    for entry in entries:
        click.echo(f"{entry.name} ({entry.id}): fallback {entry.fallback_status}")
        for flag in entry.flags:
            click.echo(f"  ! {flag.label}: {flag.message}")
        for p in entry.providers:
            click.echo(
                f"  - {p.role} {p.name}, switchover {p.switchover_hours:g} h, "
                f"{p.status or 'status not recorded'}"
            )
            for flag in p.flags:
                if flag.level != "info":
                    click.echo(f"      ! {flag.label}: {flag.message}")
