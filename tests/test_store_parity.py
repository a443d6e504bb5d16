"""The same story on SQLite and on PostgreSQL gives identical answers."""

from __future__ import annotations

from pathlib import Path

from tests.cli_helpers import Ledger

STORY_END = "2026-11-30"


def answers(ledger: Ledger) -> dict[str, object]:
    """Every status and every service month's bill of every contract, as JSON."""
    ledger.run("demo", "--today", STORY_END)
    out: dict[str, object] = {}
    for cid in ("REF-2025", "ARR-2025", "PRE-2025"):
        out[f"{cid} status"] = ledger.status(cid)
        out[f"{cid} status as of 2025-10-06"] = ledger.status(cid, "--as-of", "2025-10-06")
        for year, month in [(2025, m) for m in range(9, 13)] + [(2026, m) for m in range(1, 12)]:
            key = f"{year}-{month:02d}"
            out[f"{cid} bill {key}"] = ledger.bill(cid, key)
    return out


def test_sqlite_and_postgres_answer_identically(sqlite_url: str, postgres_url: str,
                                                tmp_path: Path) -> None:
    on_sqlite = answers(Ledger(sqlite_url, tmp_path))
    on_postgres = answers(Ledger(postgres_url, tmp_path))
    assert on_sqlite == on_postgres
    # and the story is the one the README tells
    assert on_sqlite["REF-2025 status"]["term_end"] == "2027-08-31"  # renewed 2026-09-01
    assert on_sqlite["ARR-2025 status"]["termination_reason"] == "cancellation"
    assert on_sqlite["REF-2025 bill 2025-11"]["total"] == "8400.00"  # 2,900 + 5,500


def test_demo_refuses_a_store_that_holds_events(sqlite_url: str, tmp_path: Path) -> None:
    ledger = Ledger(sqlite_url, tmp_path)
    ledger.run("demo", "--today", "2025-10-01")
    result = ledger.run("demo", "--today", "2025-10-01", expect=1)
    assert "already holds" in result.output
