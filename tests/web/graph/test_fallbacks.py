"""The fallback-provider register and region risk, through pages, forms, the API and the CLI."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from vendor_portal.audit.models import AuditEntry
from vendor_portal.graph.models import GraphEdge, GraphState, RegionRisk

RATINGS_CSV = (
    "code,name,natural_hazard,political_instability\nIN,,high,76\nDE,,low,low\nIE,,low,low\n"
)


def payments_map(build, graph_build, fallback_country="DE"):
    """Card payments (critical, RTO 4 h) needs hosting: Acme (primary, IE) or Beta (fallback,
    2 h), both in cloud region eu-west-1; and card acquiring from Ledgerline alone."""
    acme = graph_build.vendor_service(
        build.vendor(name="Acme Cloud"),
        name="Acme hosting",
        cloud_regions=["eu-west-1"],
        hosting_countries=["IE"],
    )
    beta = graph_build.vendor_service(
        build.vendor(name="Beta Cloud"),
        name="Beta hosting",
        cloud_regions=["eu-west-1"],
        hosting_countries=[fallback_country],
    )
    ledger = graph_build.vendor_service(build.vendor(name="Ledgerline"), name="Acquiring")
    service = graph_build.business_service(
        name="Card payments", criticality="critical", rto_hours=4, mtd_hours=24
    )
    service_node = graph_build.node_of(business_service_id=service.id)
    hosting = graph_build.node("Payments hosting", "capability")
    acquiring = graph_build.node("Card acquiring", "capability")
    graph_build.depends(service_node, hosting)
    graph_build.depends(service_node, acquiring)
    graph_build.depends(hosting, graph_build.node_of(vendor_service_id=acme.id))
    beta_edge = graph_build.depends(hosting, graph_build.node_of(vendor_service_id=beta.id), 2)
    graph_build.depends(acquiring, graph_build.node_of(vendor_service_id=ledger.id))
    return hosting, acquiring, beta_edge


def test_register_shows_flags_with_reasons(client, auth, build, graph_build):
    payments_map(build, graph_build)
    auth.login_as("auditor")
    page = client.get("/graph/fallbacks")
    assert page.status_code == 200
    text = page.text
    assert "Payments hosting" in text and "Beta hosting" in text
    # The shared cloud region is a common cause, found through the graph.
    assert "Shares eu-west-1" in text and "with the primary Acme hosting" in text
    assert "Only Acquiring: no fallback for Card payments (a critical service)." in text
    assert "Never tested (no test recorded)." in text
    # Auditors read; the forms are for managers.
    assert "Add a provider" not in text
    flagged = client.get("/graph/fallbacks?flag=no_fallback")
    assert "Card acquiring" in flagged.text and "Beta hosting" not in flagged.text


def test_register_exports_csv_and_xlsx_with_the_same_rows(client, auth, build, graph_build):
    payments_map(build, graph_build)
    auth.login_as("vendor_manager")
    response = client.get("/graph/fallbacks?export=csv&sort=-flags")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.text)))
    beta = next(r for r in rows if r["Provider"] == "Beta hosting")
    assert beta["Role"] == "fallback" and beta["Switchover (h)"] == "2.0"
    assert "Common cause" in beta["Flags"] and "Untested" in beta["Flags"]
    missing = next(
        r for r in rows if r["Capability"] == "Card acquiring" and r["Status"] == "missing"
    )
    assert missing["Provider"] == "(none)" and "No fallback" in missing["Flags"]
    book = load_workbook(io.BytesIO(client.get("/graph/fallbacks?export=xlsx").data))
    sheet = book.active
    assert [c.value for c in sheet[1]][:3] == ["Capability", "Needed by", "Provider"]
    assert sheet.max_row == len(rows) + 1
    assert client.get("/graph/fallbacks?sort=colour").status_code == 302


def test_manager_adds_a_provider_with_terms_and_it_is_audited(
    client, auth, build, graph_build, session
):
    _, acquiring, _ = payments_map(build, graph_build)
    second = graph_build.vendor_service(build.vendor(name="Second Acquirer"), name="Acquiring 2")
    provider = graph_build.node_of(vendor_service_id=second.id)
    version = session.scalar(select(GraphState.version))
    auth.login_as("vendor_manager")
    form = client.get(f"/graph/fallbacks/new?capability={acquiring.id}")
    assert form.status_code == 200 and "Vendor service · Acquiring 2" in form.text
    assert f'<option selected value="{acquiring.id}">' in form.text
    tested = (date.today() - timedelta(days=30)).isoformat()
    response = client.post(
        "/graph/fallbacks/new",
        data={
            "capability": str(acquiring.id),
            "provider": str(provider.id),
            "switchover_hours": "6",
            "status": "contracted",
            "last_tested": tested,
            "capacity_pct": "50",
            "notes": "Signed in March.",
        },
    )
    assert response.status_code == 302
    edge = session.scalar(
        select(GraphEdge).where(
            GraphEdge.source_id == acquiring.id, GraphEdge.target_id == provider.id
        )
    )
    assert edge.switchover_hours == 6
    assert edge.attributes == {
        "fallback_status": "contracted",
        "last_tested": tested,
        "capacity_pct": 50,
        "fallback_notes": "Signed in March.",
    }
    assert session.scalar(select(GraphState.version)) > version
    audited = session.scalars(
        select(AuditEntry).where(
            AuditEntry.entity_type == "graph_edge", AuditEntry.entity_id == str(edge.id)
        )
    ).all()
    assert audited and any(
        (a.after or {}).get("attributes", {}).get("fallback_status") == "contracted"
        for a in audited
    )
    register = client.get("/graph/fallbacks?q=Card+acquiring").text
    # The second acquirer takes 6 h, beyond the 4 h RTO: flagged, but no longer "no fallback".
    assert "Switchover takes 6 h, longer than the RTO of Card payments (4 h)" in register
    assert "no fallback for Card payments" not in register


def test_bad_terms_are_refused_and_nothing_is_stored(client, auth, build, graph_build, session):
    hosting, acquiring, _ = payments_map(build, graph_build)
    second = graph_build.vendor_service(build.vendor(), name="Acquiring 2")
    provider = graph_build.node_of(vendor_service_id=second.id)
    before = session.scalar(select(func.count(GraphEdge.id)))
    auth.login_as("vendor_manager")
    response = client.post(
        "/graph/fallbacks/new",
        data={
            "capability": str(acquiring.id),
            "provider": str(provider.id),
            "switchover_hours": "-1",
            "last_tested": (date.today() + timedelta(days=2)).isoformat(),
            "capacity_pct": "150",
        },
    )
    assert response.status_code == 422
    assert "The last test cannot be in the future." in response.text
    assert "Give 0 to 100." in response.text
    assert session.scalar(select(func.count(GraphEdge.id))) == before
    # A provider that is already there is named, not duplicated.
    duplicate = client.post(
        "/graph/fallbacks/new",
        data={
            "capability": str(hosting.id),
            "provider": str(graph_build.node_of(key=f"vendor_service:{second.id}").id),
            "switchover_hours": "0",
        },
    )
    assert duplicate.status_code == 302
    again = client.post(
        "/graph/fallbacks/new",
        data={
            "capability": str(hosting.id),
            "provider": str(graph_build.node_of(key=f"vendor_service:{second.id}").id),
            "switchover_hours": "0",
        },
    )
    assert again.status_code == 422 and "already depends on" in again.text


def test_manager_edits_and_removes_a_mapping(client, auth, build, graph_build, session):
    hosting, _, beta_edge = payments_map(build, graph_build)
    auth.login_as("vendor_manager")
    page = client.get(f"/graph/fallbacks/{beta_edge.id}/edit")
    assert page.status_code == 200 and 'value="2' in page.text
    response = client.post(
        f"/graph/fallbacks/{beta_edge.id}/edit",
        data={
            "switchover_hours": "5",
            "status": "identified",
            "last_tested": "",
            "capacity_pct": "",
        },
    )
    assert response.status_code == 302
    session.refresh(beta_edge)
    assert beta_edge.switchover_hours == 5
    assert beta_edge.attributes == {"fallback_status": "identified"}
    text = client.get("/graph/fallbacks").text
    assert "Identified only: nothing obliges the provider to take over." in text
    assert "Switchover takes 5 h, longer than the RTO of Card payments (4 h)" in text
    # Only edges out of capabilities are register mappings.
    service_edge = session.scalar(select(GraphEdge).where(GraphEdge.target_id == hosting.id))
    assert client.get(f"/graph/fallbacks/{service_edge.id}/edit").status_code == 404
    edge_id = beta_edge.id
    removed = client.post(f"/graph/fallbacks/{edge_id}/delete")
    assert removed.status_code == 302
    session.expire_all()
    assert session.scalar(select(GraphEdge.id).where(GraphEdge.id == edge_id)) is None


@pytest.mark.parametrize("role", ["auditor", "procurement"])
def test_readers_cannot_change_the_register(client, auth, build, graph_build, role):
    _, _, beta_edge = payments_map(build, graph_build)
    auth.login_as(role)
    assert client.get("/graph/fallbacks").status_code == 200
    assert client.get("/graph/fallbacks/new").status_code == 403
    assert client.post(f"/graph/fallbacks/{beta_edge.id}/edit", data={}).status_code == 403
    assert client.post("/graph/regions/import").status_code == 403
    assert client.post("/graph/regions/load-indices").status_code == 403


def test_vendor_users_see_neither_page(client, auth, build):
    auth.login_as("vendor_user", vendor=build.vendor())
    assert client.get("/graph/fallbacks").status_code == 403
    assert client.get("/graph/regions").status_code == 403


def _upload(client, text: str, name: str = "ratings.csv"):
    return client.post(
        "/graph/regions/import",
        data={"file": (io.BytesIO(text.encode()), name)},
        content_type="multipart/form-data",
    )


def test_region_csv_import_is_all_or_nothing_with_line_and_column(client, auth, session):
    auth.login_as("vendor_manager")
    bad = _upload(client, RATINGS_CSV + "ZZ,,low,low\nFR,,awful,\n")
    assert bad.status_code == 422
    assert "line 5, column code: &#39;ZZ&#39; is not an ISO 3166 country code" in bad.text
    assert "line 6, column natural_hazard" in bad.text
    assert session.scalar(select(func.count(RegionRisk.id))) == 0
    good = _upload(client, RATINGS_CSV)
    assert good.status_code == 302
    india = session.scalar(select(RegionRisk).where(RegionRisk.code == "IN"))
    assert (india.natural_hazard, india.political_instability, india.overall) == (
        "high",
        "high",
        "high",
    )
    assert india.political_instability_score == 76 and india.source == "import"
    page = client.get("/graph/regions?level=high")
    assert "India" in page.text and "Germany" not in page.text
    exported = client.get("/graph/regions/ratings.csv").text
    assert exported.splitlines()[0] == "kind,code,name,natural_hazard,political_instability,notes"
    assert "country,IN,India,high,76,\n" in exported.replace("\r\n", "\n")


def _index_folder(tmp_path):
    """Three tiny files shaped like the WGI and ND-GAIN releases."""
    (tmp_path / "wgi_2023update").mkdir(parents=True)
    (tmp_path / "nd_gain_2022release").mkdir()
    (tmp_path / "wgi_2023update/wgi_political_stability_PV_EST_1996-2022.csv").write_text(
        "country_name,iso3,2021,2022\nIndia,IND,-0.6,-0.57\nGermany,DEU,0.6,0.61\n"
        "Ireland,IRL,0.9,0.88\nAfghanistan,AFG,-2.5,-2.55\n"
    )
    for name, rows in (
        ("exposure", '"IND","India",0.57\n"DEU","Germany",0.35\n"IRL","Ireland",0.41\n'),
        ("vulnerability", '"IND","India",0.51\n"DEU","Germany",0.29\n"IRL","Ireland",0.32\n'),
    ):
        (tmp_path / f"nd_gain_2022release/{name}.csv").write_text('"ISO3","Name","2020"\n' + rows)
    return tmp_path


def test_admin_loads_the_indices_keeping_imported_ratings(app, client, auth, session, tmp_path):
    app.config["COUNTRY_RISK_DIR"] = str(_index_folder(tmp_path))
    auth.login_as("vendor_manager")
    _upload(client, "code,natural_hazard,political_instability\nIE,medium,medium\n")
    page = client.get("/graph/regions")
    assert "Load the public indices" not in page.text  # admins only
    client.post("/auth/logout")
    auth.login_as("admin")
    assert "Load the public indices" in client.get("/graph/regions").text
    response = client.post("/graph/regions/load-indices", follow_redirects=True)
    assert "3 countries new, 0 updated; 1 imported ratings kept" in response.text
    rows = {r.code: r for r in session.scalars(select(RegionRisk))}
    assert set(rows) == {"IN", "DE", "IE", "AF"}
    assert rows["IE"].source == "import" and rows["IE"].overall == "medium"
    assert rows["AF"].political_instability == "very_high" and rows["AF"].source == "indices"
    assert rows["AF"].details["wgi_year"] == 2022
    client.post("/graph/regions/load-indices", data={"replace_imported": "1"})
    session.expire_all()
    assert session.scalar(select(RegionRisk.source).where(RegionRisk.code == "IE")) == "indices"


def test_loader_says_when_the_files_are_missing(app, client, auth, tmp_path):
    app.config["COUNTRY_RISK_DIR"] = str(tmp_path / "absent")
    auth.login_as("admin")
    page = client.get("/graph/regions")
    assert "The index files are not on this server" in page.text


def test_ratings_show_on_nodes_map_scenario_and_flags(client, auth, build, graph_build, session):
    hosting, _, _ = payments_map(build, graph_build, fallback_country="IN")
    auth.login_as("vendor_manager")
    _upload(client, RATINGS_CSV)
    india_node = graph_build.node_of(key="country:IN")
    node_page = client.get(f"/graph/nodes/{india_node.id}")
    assert "India (country IN)" in node_page.text
    capability_page = client.get(f"/graph/nodes/{hosting.id}")
    assert 'data-testid="capability-register"' in capability_page.text
    assert "Depends on a high-risk region: India" in capability_page.text
    assert "India: natural hazards high, political instability high (76/100)" in (
        client.get("/graph/").text
    )
    scenario = client.get("/graph/scenario?countries=IN")
    assert 'data-testid="scenario-ratings"' in scenario.text
    assert "India (country IN)" in scenario.text


def test_manager_home_page_lists_flagged_fallbacks(client, auth, build, graph_build):
    payments_map(build, graph_build)
    auth.login_as("vendor_manager")
    home = client.get("/")
    assert "Fix flagged fallbacks" in home.text and "Card acquiring" in home.text


# --- API ------------------------------------------------------------------------------------


def test_api_lists_the_register(api, build, graph_build):
    hosting, _, _ = payments_map(build, graph_build)
    api.as_role("auditor")
    document = api.get("/api/v1/fallbacks").get_json()
    by_id = {c["id"]: c for c in document["capabilities"]}
    acquiring = next(c for c in document["capabilities"] if c["name"] == "Card acquiring")
    assert acquiring["fallback_status"] == "missing"
    assert [f["code"] for f in acquiring["flags"]] == ["no_fallback"]
    payments = by_id[hosting.key]
    beta = payments["providers"][1]
    assert beta["role"] == "fallback" and beta["switchover_hours"] == 2
    assert "common_cause" in {f["code"] for f in beta["flags"]}
    assert beta["common_causes"][0]["id"] == "cloud:eu-west-1"
    one = api.get(f"/api/v1/fallbacks?capability={hosting.key}").get_json()
    assert [c["id"] for c in one["capabilities"]] == [hosting.key]
    assert api.get("/api/v1/fallbacks?capability=nope").status_code == 404
    assert api.get("/api/v1/fallbacks?flagged=maybe").status_code == 400


def test_api_region_risk_import_and_list(api, session):
    api.as_role("vendor_manager")
    bad = api.post(
        "/api/v1/region-risk", data="code,natural_hazard\nXX,low\n", content_type="text/csv"
    )
    assert bad.status_code == 422
    assert bad.get_json()["error"]["problems"] == [
        {
            "line": 2,
            "column": "code",
            "message": "'XX' is not an ISO 3166 country code (2 or 3 letters)",
        }
    ]
    assert session.scalar(select(func.count(RegionRisk.id))) == 0
    assert api.post("/api/v1/region-risk", json={"code": "IN"}).status_code == 415
    ok = api.post("/api/v1/region-risk", data=RATINGS_CSV, content_type="text/csv")
    assert ok.status_code == 200 and ok.get_json() == {"created": 3, "updated": 0}
    page = api.get("/api/v1/region-risk?level=high").get_json()
    assert [i["code"] for i in page["items"]] == ["IN"]
    assert page["items"][0]["high_risk"] is True and page["total"] == 1
    assert api.get("/api/v1/region-risk?level=awful").status_code == 400
    api.as_role("auditor")
    assert (
        api.post("/api/v1/region-risk", data=RATINGS_CSV, content_type="text/csv").status_code
        == 403
    )


def test_api_vendor_users_are_refused(api, build):
    api.as_role("vendor_user", vendor=build.vendor())
    assert api.get("/api/v1/fallbacks").status_code == 403
    assert api.get("/api/v1/region-risk").status_code == 403


def test_openapi_documents_the_new_paths(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert {"get"} <= set(paths["/fallbacks"]) and {"get", "post"} <= set(paths["/region-risk"])


# --- CLI --------------------------------------------------------------------------------------


def test_cli_loads_indices_imports_csv_and_prints_the_register(
    runner, tmp_path, session, build, graph_build
):
    folder = _index_folder(tmp_path / "risk")
    result = runner.invoke(args=["graph", "load-country-risk", "--folder", str(folder)])
    assert result.exit_code == 0, result.output
    assert "4 created, 0 updated, 0 imported ratings kept" in result.output
    india = select(RegionRisk.natural_hazard).where(RegionRisk.code == "IN")
    assert session.scalar(india) == "very_high"  # the most exposed of the four
    bad = tmp_path / "bad.csv"
    bad.write_text("code,natural_hazard\nIN,low\nQQ,low\n")
    failed = runner.invoke(args=["graph", "import-region-risk", str(bad)])
    assert failed.exit_code == 1 and "line 3, column code" in failed.output
    assert session.scalar(india) == "very_high"  # nothing of the bad file was stored
    payments_map(build, graph_build)
    printed = runner.invoke(args=["graph", "fallbacks", "--flagged"])
    assert "Card acquiring" in printed.output and "! No fallback" in printed.output


def test_cli_loads_the_real_indices(runner, shared_data, session):
    result = runner.invoke(
        args=["graph", "load-country-risk", "--folder", str(shared_data / "country_risk")]
    )
    assert result.exit_code == 0, result.output
    assert session.scalar(select(func.count(RegionRisk.id))) > 200
    india = session.scalar(select(RegionRisk).where(RegionRisk.code == "IN"))
    assert india.overall in ("high", "very_high")


def test_home_page_does_not_start_the_register_analysis_on_a_very_large_map(
    app, session, monkeypatch
):
    from vendor_portal.graph import fallbacks as fallback_services

    calls = []
    monkeypatch.setattr(fallback_services, "HOME_INLINE_NODE_LIMIT", -1)
    monkeypatch.setattr(fallback_services.domain, "register", lambda *a, **k: calls.append(a) or [])
    fallback_services._computed.clear()
    assert fallback_services.flagged_summary(session) is None
    assert calls == []
    # Once the register page has computed it, the home page shows its flags.
    assert fallback_services.register(session) is not None and len(calls) == 1
    assert fallback_services.flagged_summary(session) == {
        "flagged": [],
        "danger": False,
        "total": 0,
    }
    assert len(calls) == 1
