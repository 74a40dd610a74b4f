"""The demo data shows real SPOFs, a common cause, a fallback too slow, a gap and a loop."""

from sqlalchemy import func, select

from vendor_portal.demo.seed import seed
from vendor_portal.extensions import db
from vendor_portal.graph import services
from vendor_portal.graph.models import BusinessService, GraphEdge, GraphNode


def test_demo_graph_shows_spofs_and_common_causes_and_is_idempotent(app):
    with app.app_context():
        seed(db.session)
        db.session.commit()
        document = {s["name"]: s for s in services.spof_document(db.session)["services"]}
        assert set(document) == {
            "Card payments",
            "Online banking",
            "Payroll",
            "Customer contact",
            "Market data trading",
            "Securities settlement",
        }
        card = {s["name"]: s for s in document["Card payments"]["spofs"]}
        assert card["MPLS WAN"]["common_cause"] and card["Ireland"]["common_cause"]
        assert card["MPLS WAN"]["explanation"] == (
            "MPLS WAN serves both the primary (Nimbus IaaS eu-west) and the fallback "
            "(Stratus Kubernetes Frankfurt) of Payments hosting, which Card payments needs."
        )
        assert "Ledgerline Payments" in card and "eu-west-1" in card
        payroll = {s["name"]: s for s in document["Payroll"]["spofs"]}
        assert (
            "takes 48 h to switch over, longer than the 24 h RTO"
            in payroll["Payroll SaaS"]["explanation"]
        )
        trading = document["Market data trading"]
        assert trading["down"] and trading["spofs"] == []
        assert [g["name"] for g in trading["gaps"]] == ["Independent market data feeds"]
        graph = services.load_graph(db.session)
        assert any(
            {"Active Directory", "MPLS WAN"} <= {graph.nodes[i].name for i in loop}
            for loop in graph.loops()
        )
        ranking = services.concentration_document(db.session)["items"]
        assert ranking[0]["cost_per_hour"] >= ranking[-1]["cost_per_hour"]
        assert {"MPLS WAN", "Meridian Telecom"} <= {i["name"] for i in ranking[:8]}

        counts = (
            db.session.scalar(select(func.count(BusinessService.id))),
            db.session.scalar(select(func.count(GraphNode.id))),
            db.session.scalar(select(func.count(GraphEdge.id))),
        )
        seed(db.session)
        db.session.commit()
        assert counts == (
            db.session.scalar(select(func.count(BusinessService.id))),
            db.session.scalar(select(func.count(GraphNode.id))),
            db.session.scalar(select(func.count(GraphEdge.id))),
        )
