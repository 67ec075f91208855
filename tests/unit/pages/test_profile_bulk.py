"""Texts that the bulk actions on the profiles page show."""

from __future__ import annotations

import pytest

from ceramic_app.state.profile_bulk import failure_text


@pytest.mark.parametrize(
    ("error_message", "expected"),
    [
        (
            "BulkError: 150 is greater than the maximum 100",
            "150 is greater than the maximum 100.",
        ),
        (
            "BulkError: 2 of its profiles changed since, so it can no longer be undone",
            "2 of its profiles changed since, so it can no longer be undone.",
        ),
        ("OperationalError: connection lost", "Connection lost."),
        ("Cancelled.", "Cancelled."),
        ("stopped 3 times", "Stopped 3 times."),
        (None, "The job did not finish."),
        ("", "The job did not finish."),
    ],
)
def test_failure_text(error_message: str | None, expected: str) -> None:
    assert failure_text(error_message) == expected
