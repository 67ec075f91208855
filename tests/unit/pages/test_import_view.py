"""Progress bar numbers of the import wizard."""

from __future__ import annotations

from datetime import UTC, datetime

from ceramic_app.state.import_view import SEARCH_CATCHING_UP, bar_counts, search_note

NOW = datetime(2026, 12, 8, 12, 0, tzinfo=UTC)


def test_cancelled_keeps_file_total() -> None:
    done, total = bar_counts("cancelled", {"records": 99_999}, 99_999, 250_000)
    assert done == 99_999
    assert total == 250_000


def test_failed_keeps_file_total() -> None:
    done, total = bar_counts("failed", {"records": 50_000}, 50_000, 250_000)
    assert done == 50_000
    assert total == 250_000


def test_completed_uses_counted_records() -> None:
    done, total = bar_counts("completed", {"records": 249_998}, 249_998, 250_000)
    assert done == 249_998
    assert total == 249_998


def test_running_keeps_live_counts() -> None:
    done, total = bar_counts("running", {"records": 10}, 40_000, 250_000)
    assert done == 40_000
    assert total == 250_000


def test_search_note_while_refresh_pending() -> None:
    assert search_note(NOW, NOW, None) == SEARCH_CATCHING_UP


def test_search_note_after_refresh() -> None:
    assert search_note(NOW, NOW, NOW) == ""


def test_search_note_while_running() -> None:
    assert search_note(None, NOW, None) == ""


def test_search_note_never_started() -> None:
    # Rejected at upload or cancelled while queued: nothing was written.
    assert search_note(NOW, None, None) == ""
