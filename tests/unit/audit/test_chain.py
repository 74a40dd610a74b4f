from dataclasses import replace

from vendor_portal.audit.domain import (
    GENESIS_HASH,
    ChainFields,
    StoredEntry,
    entry_hash,
    to_jsonable,
    verify_chain,
)


def make_chain(n: int) -> list[StoredEntry]:
    entries, prev = [], GENESIS_HASH
    for seq in range(1, n + 1):
        fields = ChainFields(
            seq,
            f"2026-01-0{seq}T00:00:00+00:00",
            1,
            "a@example.com",
            "update",
            "vendor",
            str(seq),
            {"x": seq - 1},
            {"x": seq},
        )
        digest = entry_hash(fields, prev)
        entries.append(StoredEntry(fields, prev, digest))
        prev = digest
    return entries


def test_intact_chain_verifies():
    chain = make_chain(5)
    assert verify_chain(chain, 5, chain[-1].hash) is None
    assert verify_chain([], 0, GENESIS_HASH) is None


def test_edited_content_is_found_at_that_entry():
    chain = make_chain(5)
    chain[2] = replace(chain[2], fields=replace(chain[2].fields, after={"x": 999}))
    broken = verify_chain(chain, 5, chain[-1].hash)
    assert broken.seq == 3 and "edited" in broken.reason


def test_rehashed_edit_breaks_the_next_link():
    chain = make_chain(5)
    forged_fields = replace(chain[1].fields, actor="mallory")
    chain[1] = StoredEntry(
        forged_fields, chain[1].prev_hash, entry_hash(forged_fields, chain[1].prev_hash)
    )
    assert verify_chain(chain, 5, chain[-1].hash).seq == 3


def test_deleted_entry_is_reported_as_missing():
    chain = make_chain(5)
    del chain[1]
    broken = verify_chain(chain, 5, chain[-1].hash)
    assert broken.seq == 2 and "missing" in broken.reason


def test_truncated_tail_disagrees_with_the_head():
    chain = make_chain(5)
    broken = verify_chain(chain[:3], 5, chain[-1].hash)
    assert broken.seq == 4 and "head" in broken.reason


def test_hash_covers_every_field():
    base = make_chain(1)[0].fields
    digest = entry_hash(base, GENESIS_HASH)
    for change in (
        {"actor_id": 2},
        {"action": "delete"},
        {"entity_id": "9"},
        {"before": None},
        {"occurred_at": "x"},
    ):
        assert entry_hash(replace(base, **change), GENESIS_HASH) != digest
    assert entry_hash(base, "f" * 64) != digest


def test_values_become_plain_json():
    from datetime import UTC, date, datetime
    from decimal import Decimal

    assert to_jsonable(
        {"d": date(2026, 1, 2), "t": datetime(2026, 1, 2, tzinfo=UTC), "n": Decimal("1.50")}
    ) == {
        "d": "2026-01-02",
        "t": "2026-01-02T00:00:00+00:00",
        "n": "1.50",
    }
