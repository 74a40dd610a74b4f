"""Who may use each route: the expected-access table of the authorization matrix.

Written out by hand, independently of vendor_portal/security.py, so that a change to the
permission table or to a route's decorator shows up as a failing cell. Every endpoint the app
registers needs an entry (a new route without one fails the suite); an entry is a Rule for every
method of the endpoint, or a {method: Rule} dict.

Objects in URLs all belong to vendor A (tests/web/authorization_world.py). For each principal:

- anonymous: `public` rules answer normally; otherwise pages redirect to sign-in, the API answers
  401;
- an internal role: allowed when listed in `internal`, else `internal_denied` (403);
- vendor users (`vendor`): None = refused (403); OWN = the object is vendor A's, so A's user is
  allowed and B's gets 404; ANY = a page of one's own (a list scoped to one's vendor, an account
  page), allowed for both; HIDDEN = 404 for both;
- `overrides` names a principal whose answer differs from the above (an object owned by one user).
"""

from __future__ import annotations

from dataclasses import dataclass, field

ADMIN, MANAGER, PROCUREMENT, AUDITOR = "admin", "vendor_manager", "procurement", "auditor"
INTERNAL = frozenset({ADMIN, MANAGER, PROCUREMENT, AUDITOR})
MANAGERS = frozenset({ADMIN, MANAGER})
ADMINS = frozenset({ADMIN})
AUDIT_READERS = frozenset({ADMIN, AUDITOR})
CONTRACT_WRITERS = frozenset({ADMIN, PROCUREMENT})
NOBODY_INTERNAL: frozenset[str] = frozenset()
VENDOR_USERS_AND_ANONYMOUS = frozenset({"vendor_a", "vendor_b", "anonymous"})

OWN, ANY, HIDDEN = "own", "any", "hidden"
ALLOWED = "allowed"
LOGIN = "login"


@dataclass(frozen=True)
class Rule:
    internal: frozenset[str] = NOBODY_INTERNAL
    vendor: str | None = None
    public: bool = False
    internal_denied: int = 403
    overrides: dict[str, str | int] = field(default_factory=dict)

    def expected(self, principal: str, api: bool) -> str | int:
        """ALLOWED, LOGIN or an HTTP status for this principal."""
        if principal in self.overrides:
            return self.overrides[principal]
        if self.public:
            return ALLOWED
        if principal == "anonymous":
            return 401 if api else LOGIN
        if principal in ("vendor_a", "vendor_b"):
            if self.vendor is None:
                return 403
            if self.vendor == HIDDEN or (self.vendor == OWN and principal == "vendor_b"):
                return 404
            return ALLOWED
        return ALLOWED if principal in self.internal else self.internal_denied


def rule(internal: frozenset[str], vendor: str | None = None, **kwargs) -> Rule:
    return Rule(internal=internal, vendor=vendor, **kwargs)


PUBLIC = Rule(public=True)
SIGNED_IN = rule(INTERNAL, ANY)  # any signed-in person, on their own account or lists

# Role sets named after security.PERMISSIONS, spelled out here on purpose.
INTERNAL_READ = rule(INTERNAL)
MANAGE = rule(MANAGERS)
ADMIN_ONLY = rule(ADMINS)
EVERYONE_LIST = rule(INTERNAL, ANY)  # vendor users see their own vendor's rows only
EVERYONE_OWN = rule(INTERNAL, OWN)  # vendor A's object
MANAGERS_AND_OWNER = rule(MANAGERS, OWN)
MANAGERS_AND_VENDORS = rule(MANAGERS, ANY)
VENDOR_OWN_ONLY = rule(NOBODY_INTERNAL, OWN)  # answered by the vendor itself
CONTRACT_WRITE = rule(CONTRACT_WRITERS)

TABLE: dict[str, Rule | dict[str, Rule]] = {
    # --- public and account pages
    "static": PUBLIC,
    "home.health": PUBLIC,
    "home.index": SIGNED_IN,
    "auth.login": PUBLIC,
    # signs out whoever asks and sends everyone to the sign-in page
    "auth.logout": Rule(
        public=True, overrides={p: LOGIN for p in INTERNAL | VENDOR_USERS_AND_ANONYMOUS}
    ),
    "auth.accept_invite": PUBLIC,  # the signed invitation link is the credential
    "auth.change_password": SIGNED_IN,
    "auth.tokens": SIGNED_IN,
    # a token of vendor A's user: only its owner may revoke it
    "auth.revoke_token": rule(NOBODY_INTERNAL, OWN, internal_denied=404),
    "api.openapi": PUBLIC,
    # --- administration, audit
    "admin.users": ADMIN_ONLY,
    "admin.create_user": ADMIN_ONLY,
    "admin.edit_user": ADMIN_ONLY,
    "admin.resend_invite": ADMIN_ONLY,
    "audit.index": rule(AUDIT_READERS),
    "audit.verify_chain": rule(AUDIT_READERS),
    # --- vendors
    "vendors.index": INTERNAL_READ,
    "vendors.show": EVERYONE_OWN,
    "vendors.create": MANAGE,
    "vendors.edit": MANAGE,
    "vendors.archive": MANAGE,
    "vendors.restore": MANAGE,
    "vendors.add_contact": MANAGE,
    "vendors.delete_contact": MANAGE,
    "vendors.create_service": MANAGE,
    "vendors.edit_service": MANAGE,
    "vendors.archive_service": MANAGE,
    "api.list_vendors": EVERYONE_LIST,
    "api.create_vendor": MANAGE,
    "api.get_vendor": EVERYONE_OWN,
    "api.list_services": EVERYONE_OWN,
    "api.create_service": MANAGE,
    "api.get_service": EVERYONE_OWN,
    # --- questionnaires
    "questionnaires.index": INTERNAL_READ,
    "questionnaires.templates": INTERNAL_READ,
    "questionnaires.show_version": INTERNAL_READ,
    "questionnaires.export_version": INTERNAL_READ,
    "questionnaires.new_template": MANAGE,
    "questionnaires.import_template": MANAGE,
    "questionnaires.install_default": MANAGE,
    "questionnaires.new_draft": MANAGE,
    "questionnaires.publish": MANAGE,
    "questionnaires.discard": MANAGE,
    "questionnaires.add_section": MANAGE,
    "questionnaires.edit_section": MANAGE,
    "questionnaires.move_section": MANAGE,
    "questionnaires.delete_section": MANAGE,
    "questionnaires.new_question": MANAGE,
    "questionnaires.edit_question": MANAGE,
    "questionnaires.move_question": MANAGE,
    "questionnaires.delete_question": MANAGE,
    "questionnaires.send": MANAGE,
    "questionnaires.reassess": MANAGE,
    "questionnaires.cadence": ADMIN_ONLY,
    "questionnaires.show_assignment": EVERYONE_OWN,
    "questionnaires.show_round": EVERYONE_OWN,
    "questionnaires.cancel": MANAGE,
    "questionnaires.resend_invitations": MANAGE,
    "questionnaires.review": MANAGE,
    "questionnaires.mine": rule(NOBODY_INTERNAL, ANY),
    # internal readers see the answers read-only; only the vendor answers
    "questionnaires.answer": {"GET": EVERYONE_OWN, "POST": VENDOR_OWN_ONLY},
    "questionnaires.autosave": VENDOR_OWN_ONLY,
    "questionnaires.prefill": VENDOR_OWN_ONLY,
    "api.list_assignments": EVERYONE_LIST,
    "api.get_assignment": EVERYONE_OWN,
    "api.save_answers": VENDOR_OWN_ONLY,
    "api.submit_assignment": VENDOR_OWN_ONLY,
    # --- evidence
    "evidence.index": EVERYONE_LIST,
    "evidence.expiring": EVERYONE_LIST,
    "evidence.upload": MANAGERS_AND_VENDORS,
    "evidence.show_item": EVERYONE_OWN,
    "evidence.show_version": EVERYONE_OWN,
    "evidence.download": EVERYONE_OWN,
    "evidence.review": MANAGE,
    "api.list_evidence": EVERYONE_LIST,
    "api.upload_evidence": MANAGERS_AND_VENDORS,
    "api.get_evidence": EVERYONE_OWN,
    "api.download_evidence": EVERYONE_OWN,
    "api.review_evidence": MANAGE,
    # --- KPIs and incidents
    "kpis.index": EVERYONE_LIST,
    "kpis.scorecard": EVERYONE_OWN,
    "kpis.targets": EVERYONE_LIST,
    "kpis.create_target": MANAGE,
    "kpis.edit_target": MANAGE,
    "kpis.archive_target": MANAGE,
    "kpis.recompute": MANAGE,
    "kpis.measurements": {"GET": EVERYONE_LIST, "POST": MANAGE},
    "kpis.incidents": EVERYONE_LIST,
    "kpis.show_incident": EVERYONE_OWN,
    "kpis.create_incident": MANAGERS_AND_VENDORS,
    "kpis.edit_incident": MANAGERS_AND_OWNER,
    "kpis.breaches": EVERYONE_LIST,
    "kpis.show_breach": EVERYONE_OWN,
    "kpis.close_breach": MANAGE,
    "kpis.upload": MANAGERS_AND_VENDORS,
    # a staged upload of vendor A's user: only its owner may continue it
    "kpis.map_upload": rule(NOBODY_INTERNAL, OWN, overrides={ADMIN: 404, MANAGER: 404}),
    "api.post_incidents": MANAGERS_AND_VENDORS,
    "api.list_incidents": EVERYONE_LIST,
    "api.get_incident": EVERYONE_OWN,
    "api.list_breaches": EVERYONE_LIST,
    "api.post_measurements": MANAGE,
    "api.service_availability": EVERYONE_OWN,
    "api.vendor_scorecard": EVERYONE_OWN,
    # --- dependency graph and business services (internal only)
    "graph.index": INTERNAL_READ,
    "graph.nodes": INTERNAL_READ,
    "graph.show_node": INTERNAL_READ,
    "graph.concentration": INTERNAL_READ,
    "graph.scenario": INTERNAL_READ,
    "graph.export_graph": INTERNAL_READ,
    "graph.business_services": INTERNAL_READ,
    "graph.show_business_service": INTERNAL_READ,
    "graph.create_node": MANAGE,
    "graph.edit_node": MANAGE,
    "graph.delete_node": MANAGE,
    "graph.add_dependency": MANAGE,
    "graph.delete_edge": MANAGE,
    "graph.edit_switchover": MANAGE,
    "graph.import_graph": MANAGE,
    "graph.create_business_service": MANAGE,
    "graph.edit_business_service": MANAGE,
    "graph.archive_business_service": MANAGE,
    "graph.restore_business_service": MANAGE,
    "graph.fallbacks": INTERNAL_READ,
    "graph.create_fallback": MANAGE,
    "graph.edit_fallback": MANAGE,
    "graph.delete_fallback": MANAGE,
    "graph.region_risk": INTERNAL_READ,
    "graph.region_risk_csv": INTERNAL_READ,
    "graph.import_region_risk": MANAGE,
    "graph.delete_region_risk": MANAGE,
    "graph.load_region_indices": ADMIN_ONLY,
    "api.list_fallbacks": INTERNAL_READ,
    "api.list_region_risk": INTERNAL_READ,
    "api.import_region_risk": MANAGE,
    "api.export_graph": INTERNAL_READ,
    "api.import_graph": MANAGE,
    "api.spof": INTERNAL_READ,
    "api.scenario": INTERNAL_READ,
    "api.concentration": INTERNAL_READ,
    "api.list_business_services": INTERNAL_READ,
    "api.get_business_service": INTERNAL_READ,
    "api.create_business_service": MANAGE,
    "api.update_business_service": MANAGE,
    "api.archive_business_service": MANAGE,
    # --- findings
    "findings.index": EVERYONE_LIST,
    "findings.show": EVERYONE_OWN,
    "findings.download_evidence": EVERYONE_OWN,
    "findings.create": MANAGE,
    "findings.edit": MANAGE,
    "findings.comment": MANAGERS_AND_OWNER,
    "findings.save_plan": MANAGERS_AND_OWNER,
    "findings.upload_evidence": MANAGERS_AND_OWNER,
    "findings.change_status": MANAGERS_AND_OWNER,
    "findings.request_risk": MANAGE,
    "findings.approve_risk": MANAGE,
    "findings.reject_risk": MANAGE,
    "findings.policy": ADMIN_ONLY,
    "api.list_findings": EVERYONE_LIST,
    "api.create_finding": MANAGE,
    "api.get_finding": EVERYONE_OWN,
    "api.change_finding_status": MANAGERS_AND_OWNER,
    # --- exercises
    "exercises.index": EVERYONE_LIST,
    "exercises.month": EVERYONE_LIST,
    "exercises.coverage": INTERNAL_READ,
    "exercises.show": EVERYONE_OWN,
    "exercises.report": EVERYONE_OWN,
    "exercises.download_ics": EVERYONE_OWN,
    "exercises.respond": VENDOR_OWN_ONLY,
    "exercises.blackouts": {"GET": EVERYONE_LIST, "POST": MANAGERS_AND_VENDORS},
    "exercises.delete_blackout": MANAGERS_AND_OWNER,
    "exercises.feed_settings": EVERYONE_LIST,
    "exercises.create_feed": EVERYONE_LIST,
    "exercises.revoke_feed": EVERYONE_LIST,
    "exercises.feed": PUBLIC,  # the secret feed URL is the credential (calendar apps)
    "exercises.create": MANAGE,
    "exercises.edit": MANAGE,
    "exercises.cancel": MANAGE,
    "exercises.complete": MANAGE,
    "exercises.record": MANAGE,
    "exercises.attendance": MANAGE,
    "exercises.results": MANAGE,
    "exercises.add_timeline": MANAGE,
    "exercises.raise_finding": MANAGE,
    "exercises.accept_proposal": MANAGE,
    "exercises.scenario_library": MANAGE,
    "exercises.edit_scenario": MANAGE,
    "exercises.archive_scenario": MANAGE,
    "exercises.coverage_policy": ADMIN_ONLY,
    "api.list_exercises": EVERYONE_LIST,
    "api.exercises_feed": EVERYONE_LIST,
    "api.get_exercise": EVERYONE_OWN,
    # --- subcontracting and flow-down reviews
    "subcontracting.index": EVERYONE_LIST,
    "subcontracting.export": INTERNAL_READ,  # every vendor's chain in one file
    "subcontracting.chain": {"GET": EVERYONE_OWN, "POST": MANAGERS_AND_OWNER},
    "subcontracting.remove": MANAGERS_AND_OWNER,
    "subcontracting.attest_none": MANAGERS_AND_OWNER,
    "subcontracting.new_notice": MANAGERS_AND_OWNER,
    # deciding a notice is internal; B's user gets 404 as the notice is not theirs to see
    "subcontracting.notice": {
        "GET": EVERYONE_OWN,
        "POST": rule(MANAGERS, overrides={"vendor_b": 404}),
    },
    "subcontracting.duplicates": MANAGE,
    # flow-down reviews are the organisation's assessment of a vendor: internal only
    "subcontracting.review": INTERNAL_READ,
    "subcontracting.item_evidence": INTERNAL_READ,
    "subcontracting.record_item": MANAGE,
    "subcontracting.sign_off": MANAGE,
    "subcontracting.start_review": MANAGE,
    "api.list_subcontractors": EVERYONE_OWN,
    "api.declare_subcontractor": MANAGERS_AND_OWNER,
    "api.remove_subcontractor": MANAGERS_AND_OWNER,
    "api.attest_no_subcontractors": MANAGERS_AND_OWNER,
    "api.start_flow_down_review": MANAGE,
    "api.get_flow_down_review": INTERNAL_READ,
    "api.record_flow_down_item": MANAGE,
    "api.sign_off_flow_down_review": MANAGE,
    # --- contracts, obligations and the procurement gate
    "contracts.index": INTERNAL_READ,
    "contracts.show": INTERNAL_READ,
    "contracts.create": CONTRACT_WRITE,
    "contracts.edit": CONTRACT_WRITE,
    "contracts.obligations": INTERNAL_READ,
    "contracts.edit_obligation": ADMIN_ONLY,
    "contracts.archive_obligation": ADMIN_ONLY,
    "gate.index": INTERNAL_READ,
    "gate.contract": INTERNAL_READ,
    "gate.evaluate": CONTRACT_WRITE,
    "gate.change_status": CONTRACT_WRITE,
    "gate.request_exception": CONTRACT_WRITE,
    "gate.decide_exception": MANAGE,
    "gate.policies": {"GET": INTERNAL_READ, "POST": ADMIN_ONLY},
    "gate.webhooks": ADMIN_ONLY,
    "gate.toggle_webhook": ADMIN_ONLY,
    "gate.vendor_todo": EVERYONE_LIST,
    "api.list_contracts": INTERNAL_READ,
    "api.create_contract": CONTRACT_WRITE,
    "api.get_contract": INTERNAL_READ,
    "api.contract_gate": INTERNAL_READ,
    "api.contract_status": CONTRACT_WRITE,
}


def rule_for(endpoint: str, method: str) -> Rule | None:
    entry = TABLE.get(endpoint)
    if isinstance(entry, dict):
        return entry.get(method)
    return entry
