"""The small SPOF results the home page and a business service page read instead of the whole
analysis: the same answers as the full document, and never stale after a change."""

from sqlalchemy import func, select

from vendor_portal.graph import services, summaries
from vendor_portal.graph.models import GraphNode, GraphResult, GraphServiceResult


def _services_with_one_host(build, graph_build, count):
    """`count` business services, each needing one vendor service of its own (a SPOF)."""
    made = []
    for i in range(count):
        vendor = build.vendor(name=f"Host {i}")
        hosting = graph_build.vendor_service(vendor, name=f"Hosting {i}")
        service = graph_build.business_service(name=f"Service {i:02d}", rto_hours=4)
        graph_build.depends(
            graph_build.node_of(business_service_id=service.id),
            graph_build.node_of(vendor_service_id=hosting.id),
        )
        made.append(service)
    return made


def test_attention_summary_matches_the_full_analysis(session, build, graph_build):
    _services_with_one_host(build, graph_build, 6)
    needing = [s for s in services.spof_document(session)["services"] if s["spofs"] or s["gaps"]]
    summary = summaries.attention(session)
    assert summary["count"] == len(needing) == 6
    assert summary["down"] is False
    assert summary["names"][:4] == [s["name"] for s in needing[:4]]
    # Stored one row per service beside a small summary; never as one whole document.
    names = set(session.scalars(select(GraphResult.name)))
    assert any(name.startswith("spof-rows/") for name in names)
    assert not any(name.startswith("spof/") for name in names)
    assert session.scalar(select(func.count()).select_from(GraphServiceResult)) == 6


def test_service_summary_is_that_service_entry_of_the_full_analysis(session, build, graph_build):
    made = _services_with_one_host(build, graph_build, 3)
    key = session.scalar(select(GraphNode.key).where(GraphNode.business_service_id == made[1].id))
    assert summaries.service_spofs(session, key) == services.spof_document(session, key)
    assert summaries.service_spofs(session, "no-such-node")["services"] == []


def test_home_page_task_follows_graph_changes(client, auth, session, build, graph_build):
    made = _services_with_one_host(build, graph_build, 5)
    auth.login_as("vendor_manager")
    # The changes below bypass the audit trail the home task cache watches (the cache has
    # tests of its own in tests/web/home/test_task_cache.py): gather the tasks on every view.
    client.application.config["HOME_TASKS_MAX_AGE_SECONDS"] = 0
    home = client.get("/").text
    assert "Remove single points of failure" in home and "Service 00" in home and "…" in home
    # Each service gets a second host that can take over: no SPOF left, the task goes away.
    for service in made:
        vendor = build.vendor(name=f"Spare for {service.name}")
        spare = graph_build.vendor_service(vendor, name=f"Spare {service.name}")
        node = graph_build.node_of(business_service_id=service.id)
        graph_build.requires(node, "any")
        graph_build.depends(node, graph_build.node_of(vendor_service_id=spare.id))
    session.commit()
    assert "Remove single points of failure" not in client.get("/").text


def test_business_service_page_shows_its_spofs_from_the_summary(client, auth, build, graph_build):
    made = _services_with_one_host(build, graph_build, 2)
    auth.login_as("auditor")
    page = client.get(f"/graph/services/{made[0].id}")
    assert page.status_code == 200
    assert "Hosting 0" in page.text and "Hosting 1" not in page.text
