"""Filters and compact changes of the audit log page."""

from __future__ import annotations

from datetime import UTC, datetime

from ceramic_app.state import audit_view as view


def test_parse_actor() -> None:
    assert view.parse_actor("user:12") == ("user", 12)
    assert view.parse_actor("type:system") == ("system", None)
    assert view.parse_actor("all") == (None, None)
    assert view.parse_actor("type:admin") == (None, None)
    assert view.parse_actor("user:x") == (None, None)


def test_parse_day() -> None:
    assert view.parse_day("2024-02-28") == datetime(2024, 2, 28, tzinfo=UTC)
    assert view.parse_day("2024-02-28", end=True) == datetime(2024, 2, 29, tzinfo=UTC)
    assert view.parse_day("") is None
    assert view.parse_day("28.02.2024") is None


def test_change_lines_for_update() -> None:
    lines, hidden = view.change_lines(
        {"seats": 1, "plan": "a"}, {"seats": 2, "plan": "a"}
    )
    assert hidden == 0
    assert [(line.key, line.before, line.after) for line in lines] == [
        ("seats", "1", "2")
    ]


def test_change_lines_skip_empty_and_cap() -> None:
    after = {f"k{index}": index for index in range(9)} | {"description": ""}
    lines, hidden = view.change_lines(None, after)
    assert len(lines) == view.MAX_CHANGE_LINES
    assert hidden == 9 - view.MAX_CHANGE_LINES
    assert all(line.key != "description" for line in lines)


def test_change_lines_for_scalars() -> None:
    lines, hidden = view.change_lines(None, None)
    assert (lines, hidden) == ([], 0)
    lines, _ = view.change_lines("a", "b")
    assert [(line.key, line.before, line.after) for line in lines] == [
        ("value", "a", "b")
    ]
