"""Comparing the store with the rows that name its files."""

from vendor_portal.evidence.integrity import ObjectState, Reference, TempState, assess

A, B, C = "a" * 64, "b" * 64, "c" * 64


def key(sha: str) -> str:
    return f"sha256/{sha[:2]}/{sha[2:4]}/{sha}"


def test_intact_store():
    report = assess(
        [Reference("evidence_version", 1, key(A), A), Reference("finding_evidence", 1, key(A), A)],
        [ObjectState(key(A), 10, 0.0, A)],
        [],
        now=100.0,
    )
    assert report.clean and report.files_checked == 1 and report.references == 2


def test_mismatch_missing_orphan_and_temp():
    report = assess(
        [
            Reference("evidence_version", 1, key(A), A),
            Reference("evidence_version", 2, key(B), B),
            Reference("flow_down_item", 7, key(C), B),  # the row recorded another hash
        ],
        [
            ObjectState(key(A), 10, 0.0, B),  # altered on disk
            ObjectState(key(C), 5, 50.0, C),
            ObjectState(key("d" * 64), 4, 40.0, "d" * 64),
        ],
        [TempState(".upload-x", 3, 90.0)],
        now=100.0,
    )
    assert not report.ok
    assert [(m.key, m.actual_sha256) for m in report.mismatches] == [(key(A), B), (key(C), C)]
    assert report.mismatches[1].expected == (B, C)
    assert [(r.table, r.row_id) for r in report.missing] == [("evidence_version", 2)]
    assert [(o.key, o.age_seconds) for o in report.orphans] == [(key("d" * 64), 60.0)]
    assert [(t.name, t.age_seconds) for t in report.temp_files] == [(".upload-x", 10.0)]
    assert report.lines()[-1] == "Evidence store damaged: 2 files altered, 1 missing."
