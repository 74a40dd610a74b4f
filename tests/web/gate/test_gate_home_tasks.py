"""The home page's gate task counts waiting contracts and those whose latest evaluation failed."""

import re
from datetime import timedelta

from vendor_portal.contracts.models import Contract
from vendor_portal.db import utcnow
from vendor_portal.gate.models import GateEvaluation


def contract(session, vendor, status="draft", decisions=()):
    """A contract with evaluations in this order, an hour apart (the last is the latest)."""
    item = Contract(vendor_id=vendor.id, title="Hosting", status=status)
    session.add(item)
    session.flush()
    start = utcnow() - timedelta(days=1)
    for n, decision in enumerate(decisions):
        session.add(
            GateEvaluation(
                contract_id=item.id,
                decision=decision,
                checks=[],
                evaluated_at=start + timedelta(hours=n),
            )
        )
    session.commit()
    return item


def gate_card(page: str) -> tuple[str, str]:
    """(count, detail) of the gate task."""
    card = page[page.index("Contracts awaiting the gate") :]
    count = re.search(r"rounded-pill[^>]*>(\d+)<", card).group(1)
    detail = re.search(r'<p class="card-text[^>]*>([^<]*)</p>', card).group(1)
    return count, detail


def test_counts_waiting_contracts_and_those_whose_latest_evaluation_failed(
    client, auth, build, session
):
    vendor = build.vendor()
    contract(session, vendor)  # never evaluated
    contract(session, vendor, decisions=["fail"])
    contract(session, vendor, decisions=["fail", "pass"])  # fixed since
    contract(session, vendor, decisions=["pass", "fail"])  # broken since
    contract(session, vendor, status="awaiting_gate", decisions=["pass_with_exception", "fail"])
    contract(session, vendor, status="active", decisions=["fail"])  # signed: not waiting
    auth.login_as("procurement")
    assert gate_card(client.get("/").text) == ("5", "3 blocked by a failing check.")


def test_nothing_blocked_and_a_new_failure_seen_on_the_next_request(client, auth, build, session):
    vendor = build.vendor()
    item = contract(session, vendor, decisions=["pass"])
    auth.login_as("admin")
    # The fixture's session writes without the audit trail the home page's task cache watches
    # (tests/web/home/test_task_cache.py covers the cache): gather the tasks on every view.
    client.application.config["HOME_TASKS_MAX_AGE_SECONDS"] = 0
    assert gate_card(client.get("/").text) == ("1", "Evaluate and approve them.")
    session.add(GateEvaluation(contract_id=item.id, decision="fail", checks=[]))
    session.commit()
    assert gate_card(client.get("/").text) == ("1", "1 blocked by a failing check.")
